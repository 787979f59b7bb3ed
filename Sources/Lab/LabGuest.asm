; The lab guest: a boot sector, no OS, that writes a counter to its disk and leaves a crash record
; on an NMI. Assembled with `nasm -f bin -o LabGuest.bin LabGuest.asm`; the bytes are committed in
; LabGuest+BootSector.swift, and a test reassembles this file and compares.
;
; Disk layout (512-byte sectors, LBA):
;   0             this boot sector
;   1 ... 2048    the sequence: counter C goes to sector 1 + (C mod 2048); bytes 0-7 C (little endian),
;                 8-15 ASCII "TETHERSQ", the rest zero
;   4096 ... 4159 the crash record, sector 4096 + i for i in 0...63: bytes 0-7 ASCII "TETHERCR",
;                 8-15 the last counter whose write completed (little endian; 0 if none), 16-19 i
;                 (little endian), the rest zero. Written 4097 ... 4159 first, 4096 last: a record
;                 whose sector 4096 is there is complete.
;
; Why not BIOS int 13h: SeaBIOS serves a virtio-blk disk in 32-bit protected mode, under an IDT
; that turns any interrupt into a triple fault (a reset: the counter back at 1). An NMI injected
; from outside lands there most of the time (80% of samples of a running guest, nested KVM, were
; in protected mode). So after SeaBIOS has loaded this sector, the guest drives the disk itself:
; the first legacy virtio-blk PCI function on bus 0 (vendor 1AF4, device 1001: QEMU's
; virtio-blk-pci on a `pc` machine, whose queue has QEMU's default 256 entries: another size halts
; the guest), reset and given one queue in low memory, polled. The CPU never leaves real mode.
;
; Why the NMI handler only sets a flag: the main loop checks it between writes, and signals the
; panic and writes the crash record itself, so a write is never interrupted by another.
;
; The pace: the PIT's channel 0 is set to tick every 6 ms (the BIOS's 18.2 Hz tick runs faster: its
; handler is still called on every tick, for its end-of-interrupt), and the guest halts until the
; next tick after each write: one wake a write. The PIT, the device and the rings are the VM's
; state and migrate with it; nothing is timed from the host's clock, so a live migration or a
; suspend/resume is invisible.
;
; A failed write (virtio status not OK) is submitted again, the same counter, a tick later. With
; werror=stop QEMU holds it instead, and completes it once the VM is continued.

bits 16
org 0x7C00

COUNTER     equ 0x7E00      ; qword: the counter to write next
NMI_SEEN    equ 0x7E08      ; byte: nonzero once an NMI came
TICKS       equ 0x7E0A      ; word: PIT ticks seen
BIOS_TIMER  equ 0x7E0C      ; far pointer: the BIOS's IRQ 0 handler
IO_BASE     equ 0x7E10      ; word: the device's legacy virtio I/O ports
REQUEST     equ 0x7E20      ; virtio-blk request header: type (1 = write), reserved, sector (16 bytes)
STATUS      equ 0x7E30      ; byte: the device's answer (0 = OK)
BUFFER      equ 0x8000      ; the sector written (512 bytes)
VARIABLES_END equ BUFFER + 512

QUEUE_SIZE  equ 256
RING        equ 0x1000      ; the queue: 256 descriptors, the available ring, the used ring (page-aligned)
AVAIL       equ RING + 16 * QUEUE_SIZE
USED        equ AVAIL + 0x1000
RING_END    equ USED + 0x1000

PIT_DIVISOR      equ 7159   ; 1193182 Hz / 7159: a tick every 6.0 ms
CRASH_WAIT_TICKS equ 2      ; between crash record sectors: 12 ms
CRASH_FIRST_LBA  equ 4096
CRASH_SECTORS    equ 64
PVPANIC_PORT     equ 0x505

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    jmp 0:.at_zero              ; some BIOSes enter at 07C0:0000; the code assumes CS = 0
.at_zero:
    mov di, RING                ; the rings, variables and buffer start zeroed (ax = 0)
    mov cx, (RING_END - RING) / 2
    rep stosw
    mov di, COUNTER
    mov cx, (VARIABLES_END - COUNTER) / 2
    rep stosw
    mov word [2 * 4], nmi       ; IVT vector 2, 0000:nmi
    mov word [2 * 4 + 2], ax
    mov eax, [8 * 4]            ; IVT vector 8 (IRQ 0): ours first, then the BIOS's
    mov [BIOS_TIMER], eax
    mov word [8 * 4], timer
    mov word [8 * 4 + 2], 0
    mov al, 0x34                ; PIT channel 0, low then high byte, mode 2 (rate generator)
    out 0x43, al
    mov ax, PIT_DIVISOR
    out 0x40, al
    mov al, ah
    out 0x40, al
    call find_disk
    call setup_queue
    mov byte [COUNTER], 1
    mov byte [REQUEST], 1       ; VIRTIO_BLK_T_OUT
    sti

sequence:
    cmp byte [NMI_SEEN], 0
    jne crash
    mov eax, [COUNTER]
    mov [BUFFER], eax
    mov edx, [COUNTER + 4]
    mov [BUFFER + 4], edx
    mov dword [BUFFER + 8], 'TETH'
    mov dword [BUFFER + 12], 'ERSQ'
    and eax, 2047
    inc eax
    call write_sector
    add dword [COUNTER], 1      ; only now: the write completed
    adc dword [COUNTER + 4], 0
    mov cx, 1
    call wait_ticks
    jmp sequence

crash:
    mov dx, PVPANIC_PORT        ; first the panic, then the record
    mov al, 1
    out dx, al
    sub dword [COUNTER], 1      ; the last counter written
    sbb dword [COUNTER + 4], 0
    mov dword [BUFFER], 'TETH'
    mov dword [BUFFER + 4], 'ERCR'
    mov eax, [COUNTER]
    mov [BUFFER + 8], eax
    mov eax, [COUNTER + 4]
    mov [BUFFER + 12], eax
    mov bx, 1
.record:
    call write_crash_sector
    inc bx
    cmp bx, CRASH_SECTORS
    jb .record
    xor bx, bx                  ; the first sector last: it says the record is complete
    call write_crash_sector
halt:
    cli
.again:
    hlt                         ; an NMI still wakes hlt; its handler returns here
    jmp .again

; bx = index of the crash record's sector
write_crash_sector:
    movzx eax, bx
    mov [BUFFER + 16], eax
    add eax, CRASH_FIRST_LBA
    call write_sector
    mov cx, CRASH_WAIT_TICKS
    jmp wait_ticks

; PCI configuration mechanism 1, bus 0: the first function that is a legacy virtio-blk device;
; sets IO_BASE from its BAR 0. None: halt (nothing to write to).
find_disk:
    mov ebx, 0x80000000
.next:
    mov eax, ebx
    call pci_read
    cmp eax, 0x10011AF4
    je .found
    add ebx, 0x100              ; next function
    cmp ebx, 0x80010000
    jb .next
    jmp halt
.found:
    lea eax, [ebx + 0x10]       ; BAR 0: I/O space
    call pci_read
    and al, 0xFC
    mov [IO_BASE], ax
    ret

; eax = configuration address; returns the dword there in eax
pci_read:
    mov dx, 0xCF8
    out dx, eax
    mov dl, 0xFC
    in eax, dx
    ret

; Legacy virtio: reset, acknowledge, no features, queue 0 at RING, driver ready. Every request
; uses the same three descriptors (header, data, status) and the available ring's entries all stay
; 0 (zeroed at start): a request is published by bumping the available index alone.
setup_queue:
    mov dx, [IO_BASE]
    add dx, 0x12                ; device status
    xor ax, ax
    out dx, al                  ; reset: the BIOS's queue is forgotten
    mov al, 3                   ; ACKNOWLEDGE | DRIVER
    out dx, al
    sub dx, 0x12 - 0x0C         ; queue size (queue 0 is selected after a reset)
    in ax, dx
    cmp ax, QUEUE_SIZE
    jne halt
    mov word [AVAIL], 1         ; VRING_AVAIL_F_NO_INTERRUPT: the guest polls
    mov word [RING + 0], REQUEST
    mov byte [RING + 8], 16
    mov dword [RING + 12], 0x00010001 ; NEXT, next = 1
    mov word [RING + 16], BUFFER
    mov word [RING + 24], 512
    mov dword [RING + 28], 0x00020001 ; NEXT, next = 2
    mov word [RING + 32], STATUS
    mov byte [RING + 40], 1
    mov byte [RING + 44], 2     ; WRITE: the device's answer
    sub dx, 0x0C - 0x08         ; queue address, in 4096-byte pages
    mov eax, RING >> 12
    out dx, eax
    add dx, 0x12 - 0x08
    mov al, 7                   ; ACKNOWLEDGE | DRIVER | DRIVER_OK (no features: none written)
    out dx, al
    ret

; eax = LBA: writes BUFFER there, again and again until the device says OK
write_sector:
    mov [REQUEST + 8], eax      ; the high dword of the sector stays 0
.again:
    mov byte [STATUS], 0xFF
    inc word [AVAIL + 2]        ; publish (x86 keeps stores in order)
    mov dx, [IO_BASE]
    add dx, 0x10                ; queue notify: queue 0
    xor ax, ax
    out dx, ax
    mov ax, [AVAIL + 2]
.poll:
    pause
    cmp [USED + 2], ax
    jne .poll
    cmp byte [STATUS], 0
    je .done
    mov cx, 1                   ; a failed write: the same one again, a tick later
    call wait_ticks
    jmp .again
.done:
    ret

; cx = ticks to wait, halting in between (interrupts are on)
wait_ticks:
    add cx, [TICKS]
.halt:
    hlt                         ; a tick just before it makes the wait one tick longer, no more
    mov ax, [TICKS]
    sub ax, cx
    js .halt                    ; before the target (modulo 2^16)
    ret

; IRQ 0: count, then the BIOS's handler (its tick count, the end of interrupt, int 1Ch).
timer:
    inc word [cs:TICKS]
    jmp far [cs:BIOS_TIMER]

; Only a flag: see above. CS is 0 here (the vector says so), whatever was running.
nmi:
    mov byte [cs:NMI_SEEN], 1
    iret


    times 510 - ($ - $$) db 0
    dw 0xAA55
