import COpenSSL

/// HKDF with SHA-256 (RFC 5869).
public enum HKDF {
    /// Derives `length` bytes from input keying material, an optional salt and
    /// a context string `info`.
    public static func deriveBytes(inputKeyMaterial ikm: UnsafeRawBufferPointer, salt: [UInt8] = [],
                                   info: [UInt8], length: Int) throws -> SecureBytes {
        guard length > 0, length <= 255 * 32 else {
            throw CryptoError.invalidParameter("HKDF output length \(length) is outside 1…8160")
        }
        return try SecureBytes(count: length) { out in
            let ok = salt.withUnsafeBufferPointer { saltPtr in
                info.withUnsafeBufferPointer { infoPtr in
                    coffer_hkdf_sha256(ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), ikm.count,
                                       saltPtr.baseAddress, saltPtr.count,
                                       infoPtr.baseAddress, infoPtr.count,
                                       out.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
                }
            }
            guard ok == 1 else { throw CryptoError.fromOpenSSL("HKDF") }
        }
    }

    /// Derives a 256-bit subkey from `key` for the purpose named by `label`.
    /// Different labels give independent keys.
    public static func deriveKey(from key: SymmetricKey, label: String, salt: [UInt8] = []) throws -> SymmetricKey {
        try key.withUnsafeBytes { ikm in
            try SymmetricKey(deriveBytes(inputKeyMaterial: ikm, salt: salt, info: Array(label.utf8),
                                         length: SymmetricKey.byteCount))
        }
    }
}
