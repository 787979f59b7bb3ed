import Testing
import TetherModel
@testable import USBProbe

/// Every libusb return code becomes one TetherError with a code, a message that says what to do,
/// and libusb's own name for the failure.
struct LibUSBErrorTests {
    // libusb.h: IO -1, INVALID_PARAM -2, ACCESS -3, NO_DEVICE -4, NOT_FOUND -5, BUSY -6,
    // TIMEOUT -7, OVERFLOW -8, PIPE -9, INTERRUPTED -10, NO_MEM -11, NOT_SUPPORTED -12, OTHER -99.
    @Test(arguments: [
        (Int32(-1), TetherError.Code.io, "LIBUSB_ERROR_IO"), (-2, .invalidArgument, "LIBUSB_ERROR_INVALID_PARAM"),
        (-3, .permissionDenied, "LIBUSB_ERROR_ACCESS"), (-4, .notFound, "LIBUSB_ERROR_NO_DEVICE"),
        (-5, .notFound, "LIBUSB_ERROR_NOT_FOUND"), (-6, .busy, "LIBUSB_ERROR_BUSY"), (-7, .timeout, "LIBUSB_ERROR_TIMEOUT"),
        (-8, .io, "LIBUSB_ERROR_OVERFLOW"), (-9, .io, "LIBUSB_ERROR_PIPE"), (-10, .interrupted, "LIBUSB_ERROR_INTERRUPTED"),
        (-11, .noMemory, "LIBUSB_ERROR_NO_MEM"), (-12, .unsupported, "LIBUSB_ERROR_NOT_SUPPORTED"),
        (-99, .internalError, "LIBUSB_ERROR_OTHER"),
    ])
    func everyCodeMapsToOneTypedError(_ rc: Int32, _ code: TetherError.Code, _ name: String) {
        #expect(throws: TetherError.self) { try check(rc, "open device 1:4") }
        do {
            try check(rc, "open device 1:4")
        } catch {
            #expect(error.code == code)
            #expect(error.message.hasPrefix("libusb could not open device 1:4"))
            #expect(error.cause == "\(name) (\(rc))")
        }
    }

    @Test func successPassesThrough() throws {
        #expect(try check(0, "list devices") == 0)
        #expect(try check(7, "list devices") == 7)
    }

    @Test func permissionErrorSaysWhatToDo() {
        #expect(LibUSBError.tetherError(-3, "open device 1:4").message.contains("udev rule"))
    }
}
