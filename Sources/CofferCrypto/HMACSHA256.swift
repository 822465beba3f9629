import COpenSSL

/// HMAC-SHA256 (RFC 2104 / FIPS 198-1).
///
/// An instance holds a keyed OpenSSL context and can MAC many messages; reuse
/// is several times cheaper than a one-shot call. Not thread-safe: one per task.
public final class HMACSHA256 {
    /// MAC length in bytes.
    public static let byteCount = 32
    private let context: OpaquePointer

    /// A context keyed with `key` (any length; RFC 2104 hashes long keys).
    public init(key: UnsafeRawBufferPointer) throws {
        context = try Self.makeContext(key)
    }

    /// A context keyed with a symmetric key.
    public init(key: SymmetricKey) throws {
        context = try key.withUnsafeBytes { try Self.makeContext($0) }
    }

    /// A context keyed with raw bytes.
    public init(key: [UInt8]) throws {
        context = try key.withUnsafeBytes { try Self.makeContext($0) }
    }

    private static func makeContext(_ key: UnsafeRawBufferPointer) throws -> OpaquePointer {
        guard let ctx = coffer_hmac_sha256_new(key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count) else {
            throw CryptoError.fromOpenSSL("HMAC init")
        }
        return ctx
    }

    private init(context: OpaquePointer) {
        self.context = context
    }

    deinit { EVP_MAC_CTX_free(context) }

    /// A context of its own under the same key, for another thread: the key
    /// is copied inside OpenSSL and never passes through Swift memory.
    public func duplicate() throws -> HMACSHA256 {
        guard let copy = EVP_MAC_CTX_dup(context) else { throw CryptoError.fromOpenSSL("HMAC duplicate") }
        return HMACSHA256(context: copy)
    }

    /// The 32-byte MAC of `data`.
    public func authenticate(_ data: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        try out.withUnsafeMutableBytes { try authenticate(data, into: $0) }
        return out
    }

    /// Writes the 32-byte MAC of `data` into `out` (at least 32 bytes), for
    /// callers that MAC many short messages and keep only part of each MAC.
    public func authenticate(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws {
        precondition(out.count >= Self.byteCount, "HMAC-SHA256 writes 32 bytes")
        let ok = coffer_hmac_sha256_run(context, data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                                        out.baseAddress?.assumingMemoryBound(to: UInt8.self))
        guard ok == 1 else { throw CryptoError.fromOpenSSL("HMAC") }
    }

    /// The 32-byte MAC of `data`.
    public func authenticate<C: Collection>(_ data: C) throws -> [UInt8] where C.Element == UInt8 {
        if let result = try data.withContiguousStorageIfAvailable({ try authenticate(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return try Array(data).withUnsafeBytes { try authenticate($0) }
    }

    /// One-shot HMAC-SHA256.
    public static func authenticate(_ data: [UInt8], key: [UInt8]) throws -> [UInt8] {
        try HMACSHA256(key: key).authenticate(data)
    }
}
