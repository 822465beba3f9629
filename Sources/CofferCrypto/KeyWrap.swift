/// Wrapping one key (or any small secret) under another with AES-256-GCM.
///
/// The wrapped form is `nonce (12) ‖ ciphertext ‖ tag (16)`. The `context`
/// is authenticated but not stored: it binds a wrapped key to where it belongs
/// (e.g. "subject key of subject X, version 1"), so a wrapped key copied to
/// another row does not unwrap.
public enum KeyWrap {
    /// Overhead added to the secret's length.
    public static let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount

    /// Wraps `secret` under `kek`, bound to `context`; `cipher` reuses a context
    /// (many keys in a row), else one is made for this call.
    public static func wrap(_ secret: SecureBytes, with kek: SymmetricKey, context: [UInt8],
                            using cipher: AESGCMContext? = nil) throws -> [UInt8] {
        let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
        var plain = secret.copyBytes()
        defer { plain.wipe() }
        return nonce + (try (cipher ?? AESGCMContext()).seal(plain, key: kek, nonce: nonce, authenticating: context))
    }

    /// Unwraps what `wrap` produced. Throws `CryptoError.authenticationFailed`
    /// for a wrong key, a wrong context or altered bytes.
    public static func unwrap(_ wrapped: [UInt8], with kek: SymmetricKey, context: [UInt8],
                              using cipher: AESGCMContext? = nil) throws -> SecureBytes {
        guard wrapped.count >= overhead else { throw CryptoError.authenticationFailed }
        var plain = try (cipher ?? AESGCMContext()).open(Array(wrapped[AESGCM.nonceByteCount...]), key: kek,
                                                         nonce: wrapped[0..<AESGCM.nonceByteCount], authenticating: context)
        defer { plain.wipe() }
        return SecureBytes(plain)
    }
}

extension Array where Element == UInt8 {
    /// Overwrites the array's bytes with zeros in a way the optimiser keeps.
    package mutating func wipe() { wipe(from: 0) }

    /// Overwrites the bytes from `start` on with zeros, keeping those before it.
    package mutating func wipe(from start: Int) {
        withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress, start < buffer.count { OPENSSL_cleanse_shim(base + start, buffer.count - start) }
        }
    }
}
