import COpenSSL

/// Why a cryptographic operation failed.
///
/// Messages never carry key material or plaintext.
public enum CryptoError: CofferError, Equatable {
    /// libcrypto reported a failure in `operation`; `detail` is OpenSSL's own text.
    case openSSL(operation: String, detail: String)
    /// An authentication tag or signature did not match: wrong key, or the data was altered.
    case authenticationFailed
    /// A key, nonce or tag of the wrong length was given.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// Parameters out of range (e.g. a scrypt cost that is not a power of two).
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .openSSL(operation, detail):
            return "OpenSSL failed in \(operation): \(detail)"
        case .authenticationFailed:
            return "authentication failed: wrong key, or the data was altered"
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case let .invalidParameter(text):
            return "invalid parameter: \(text)"
        }
    }

    /// Builds an `.openSSL` error from the newest entry on OpenSSL's error queue.
    static func fromOpenSSL(_ operation: String) -> CryptoError {
        var buffer = [CChar](repeating: 0, count: 256)
        let text = buffer.withUnsafeMutableBufferPointer { ptr -> String in
            coffer_last_error(ptr.baseAddress, ptr.count)
            return String(cString: ptr.baseAddress!)
        }
        return .openSSL(operation: operation, detail: text)
    }
}
