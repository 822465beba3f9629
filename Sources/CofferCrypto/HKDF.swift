import COpenSSL

/// HKDF with SHA-256 (RFC 5869).
public enum HKDF {
    /// Derives `length` bytes from input keying material, an optional salt and
    /// a context string `info`.
    public static func deriveBytes(inputKeyMaterial ikm: UnsafeRawBufferPointer, salt: [UInt8] = [],
                                   info: [UInt8], length: Int) throws -> SecureBytes {
        try salt.withUnsafeBytes { try run(COFFER_HKDF_EXTRACT_AND_EXPAND, ikm, salt: $0, info: info, length: length) }
    }

    /// HKDF-Extract: the 32-byte pseudorandom key of `ikm` under `salt`
    /// (an empty salt is 32 zero bytes, as RFC 5869 says).
    public static func extract(salt: [UInt8], inputKeyMaterial ikm: [UInt8]) throws -> SecureBytes {
        try ikm.withUnsafeBytes { ikm in try salt.withUnsafeBytes { try extract(salt: $0, inputKeyMaterial: ikm) } }
    }

    /// HKDF-Extract over memory the caller holds, for a secret salt or input
    /// (HPKE's shared secrets) that must not be copied into unwiped arrays.
    public static func extract(salt: UnsafeRawBufferPointer, inputKeyMaterial ikm: UnsafeRawBufferPointer) throws -> SecureBytes {
        try run(COFFER_HKDF_EXTRACT_ONLY, ikm, salt: salt, info: [], length: 32)
    }

    /// HKDF-Expand: `length` bytes from the pseudorandom key `prk` and `info`.
    public static func expand(pseudorandomKey prk: SecureBytes, info: [UInt8], length: Int) throws -> SecureBytes {
        try prk.withUnsafeBytes { try run(COFFER_HKDF_EXPAND_ONLY, $0, salt: UnsafeRawBufferPointer(start: nil, count: 0), info: info, length: length) }
    }

    private static func run(_ mode: Int32, _ ikm: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, info: [UInt8],
                            length: Int) throws -> SecureBytes {
        guard length > 0, length <= 255 * 32 else {
            throw CryptoError.invalidParameter("HKDF output length \(length) is outside 1…8160")
        }
        return try SecureBytes(count: length) { out in
            let ok = info.withUnsafeBufferPointer { infoPtr in
                coffer_hkdf_sha256(mode, ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), ikm.count,
                                   salt.baseAddress?.assumingMemoryBound(to: UInt8.self), salt.count,
                                   infoPtr.baseAddress, infoPtr.count,
                                   out.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
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
