import CLibUSB
import TetherModel

/// Turns a libusb return code into Tether's one error type; non-negative codes pass through.
/// Every libusb call in this module goes through here, as NIO's `syscall` wraps every syscall.
@discardableResult
func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(TetherError) -> Int32 {
    guard rc < 0 else { return rc }
    throw LibUSBError.tetherError(rc, what())
}

enum LibUSBError {
    static func tetherError(_ rc: Int32, _ what: String) -> TetherError {
        let name = String(cString: libusb_error_name(rc))
        let code: TetherError.Code
        switch libusb_error(rc) {
        case LIBUSB_ERROR_INVALID_PARAM: code = .invalidArgument
        case LIBUSB_ERROR_ACCESS: code = .permissionDenied
        case LIBUSB_ERROR_NO_DEVICE, LIBUSB_ERROR_NOT_FOUND: code = .notFound
        case LIBUSB_ERROR_BUSY: code = .busy
        case LIBUSB_ERROR_TIMEOUT: code = .timeout
        case LIBUSB_ERROR_NOT_SUPPORTED: code = .unsupported
        case LIBUSB_ERROR_NO_MEM: code = .noMemory
        case LIBUSB_ERROR_INTERRUPTED: code = .interrupted
        case LIBUSB_ERROR_IO, LIBUSB_ERROR_PIPE, LIBUSB_ERROR_OVERFLOW: code = .io
        default: code = .internalError
        }
        let hint: String
        switch code {
        case .permissionDenied: hint = "; run as root or add a udev rule that grants access"
        case .notFound: hint = "; the device may have been unplugged"
        default: hint = ""
        }
        return TetherError(code, "libusb could not \(what)\(hint)", cause: "\(name) (\(rc))")
    }
}
