import COpenSSL

/// SHA-256 (FIPS 180-4).
///
/// An instance reuses one digest context across messages. Not thread-safe.
public final class SHA256 {
    /// Digest length in bytes.
    public static let byteCount = 32
    private let context: OpaquePointer

    public init() throws {
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError.fromOpenSSL("EVP_MD_CTX_new") }
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts a new digest.
    public func reset() throws {
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { throw CryptoError.fromOpenSSL("SHA-256 init") }
    }

    /// Feeds bytes into the current digest.
    public func update(_ data: UnsafeRawBufferPointer) throws {
        guard data.count > 0 else { return }
        guard EVP_DigestUpdate(context, data.baseAddress, data.count) == 1 else {
            throw CryptoError.fromOpenSSL("SHA-256 update")
        }
    }

    /// Feeds bytes into the current digest.
    public func update<C: Collection>(_ data: C) throws where C.Element == UInt8 {
        if try data.withContiguousStorageIfAvailable({ try update(UnsafeRawBufferPointer($0)) }) == nil {
            try Array(data).withUnsafeBytes { try update($0) }
        }
    }

    /// Finishes the current digest and returns its 32 bytes.
    public func finalize() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        var len: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &len) == 1, len == 32 else {
            throw CryptoError.fromOpenSSL("SHA-256 final")
        }
        return out
    }

    /// One-shot digest of `data`.
    public static func hash<C: Collection>(_ data: C) throws -> [UInt8] where C.Element == UInt8 {
        let h = try SHA256()
        try h.reset()
        try h.update(data)
        return try h.finalize()
    }
}
