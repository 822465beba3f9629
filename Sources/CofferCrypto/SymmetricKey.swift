/// A 256-bit symmetric key held in wiped-on-release memory.
public struct SymmetricKey: Sendable, CustomStringConvertible {
    /// Key length in bytes (AES-256, HMAC-SHA256 and HKDF outputs all use 32).
    public static let byteCount = 32

    /// The key bytes.
    package let bytes: SecureBytes

    /// Wraps existing secret bytes; they must be exactly 32 bytes.
    public init(_ bytes: SecureBytes) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "symmetric key", expected: Self.byteCount, actual: bytes.count)
        }
        self.bytes = bytes
    }

    /// Copies raw bytes into a key; they must be exactly 32 bytes.
    public init<C: Collection>(copying raw: C) throws where C.Element == UInt8 {
        try self.init(SecureBytes(raw))
    }

    /// A fresh random key from the system's CSPRNG.
    public static func random() throws -> SymmetricKey {
        try SymmetricKey(SecureBytes.random(count: byteCount))
    }

    /// Calls `body` with the raw key bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    public var description: String { "SymmetricKey(redacted)" }
}
