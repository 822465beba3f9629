import COpenSSL

/// AES-256-GCM authenticated encryption (NIST SP 800-38D) with 96-bit nonces
/// and 128-bit tags.
///
/// The sealed form is `ciphertext ‖ tag`. The nonce travels beside it; a nonce
/// must never repeat under one key (Coffer draws them at random).
public enum AESGCM {
    /// Nonce length in bytes.
    public static let nonceByteCount = 12
    /// Tag length in bytes.
    public static let tagByteCount = 16

    /// Encrypts `plaintext` and authenticates it together with `aad`.
    /// - Returns: `ciphertext ‖ tag` (16 bytes longer than the plaintext).
    public static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: some Collection<UInt8>,
                            authenticating aad: [UInt8] = []) throws -> [UInt8] {
        try AESGCMContext().seal(plaintext, key: key, nonce: nonce, authenticating: aad)
    }

    /// Decrypts `sealed` (`ciphertext ‖ tag`) after checking the tag over it and `aad`.
    /// - Throws: `CryptoError.authenticationFailed` if anything was altered or the key is wrong.
    public static func open(_ sealed: [UInt8], key: SymmetricKey, nonce: some Collection<UInt8>,
                            authenticating aad: [UInt8] = []) throws -> [UInt8] {
        try AESGCMContext().open(sealed, key: key, nonce: nonce, authenticating: aad)
    }
}

/// A reusable AES-256-GCM context: re-keying an existing context is several
/// times cheaper than creating one per message. Not thread-safe: one per task.
public final class AESGCMContext {
    private let context: OpaquePointer

    /// Allocates the OpenSSL cipher context.
    public init() throws {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw CryptoError.fromOpenSSL("EVP_CIPHER_CTX_new") }
        context = ctx
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// See `AESGCM.seal`.
    public func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: some Collection<UInt8>,
                     authenticating aad: [UInt8] = []) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal($0, key: key, nonce: nonce, authenticating: aad) }
    }

    /// Seals `plaintext` where it lies (no copy of it is made) and returns
    /// `prefix ‖ ciphertext ‖ tag` in one allocation: for large buffers such as
    /// a projection's database image. Any size; fed to OpenSSL in 1 GiB pieces.
    public func seal(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey, nonce: some Collection<UInt8>,
                     authenticating aad: [UInt8] = [], prefix: [UInt8] = []) throws -> [UInt8] {
        let nonceBytes = Array(nonce)
        try checkNonce(nonceBytes)
        var out = [UInt8](repeating: 0, count: prefix.count + plaintext.count + AESGCM.tagByteCount)
        out.replaceSubrange(0..<prefix.count, with: prefix)
        try key.withUnsafeBytes { keyPtr in
            try nonceBytes.withUnsafeBufferPointer { noncePtr in
                guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                      EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_SET_IVLEN, Int32(AESGCM.nonceByteCount), nil) == 1,
                      EVP_EncryptInit_ex(context, nil, nil, keyPtr.bindMemory(to: UInt8.self).baseAddress,
                                         noncePtr.baseAddress) == 1
                else { throw CryptoError.fromOpenSSL("AES-GCM encrypt init") }
            }
        }
        var written: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &written, aad, Int32(aad.count)) == 1 else {
                throw CryptoError.fromOpenSSL("AES-GCM aad")
            }
        }
        try out.withUnsafeMutableBufferPointer { outPtr in
            let base = outPtr.baseAddress! + prefix.count
            var total = 0
            while total < plaintext.count {
                let piece = min(plaintext.count - total, 1 << 30)
                guard EVP_EncryptUpdate(context, base + total, &written,
                                        plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self) + total, Int32(piece)) == 1 else {
                    throw CryptoError.fromOpenSSL("AES-GCM encrypt")
                }
                total += Int(written)
            }
            guard EVP_EncryptFinal_ex(context, base + total, &written) == 1 else {
                throw CryptoError.fromOpenSSL("AES-GCM encrypt final")
            }
            guard EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_GET_TAG, Int32(AESGCM.tagByteCount),
                                      base + plaintext.count) == 1 else {
                throw CryptoError.fromOpenSSL("AES-GCM get tag")
            }
        }
        return out
    }

    /// See `AESGCM.open`.
    public func open(_ sealed: [UInt8], key: SymmetricKey, nonce: some Collection<UInt8>,
                     authenticating aad: [UInt8] = []) throws -> [UInt8] {
        let nonceBytes = Array(nonce)
        try checkNonce(nonceBytes)
        guard sealed.count >= AESGCM.tagByteCount else { throw CryptoError.authenticationFailed }
        let cipherCount = sealed.count - AESGCM.tagByteCount
        var tag = Array(sealed[cipherCount...])
        var out = [UInt8](repeating: 0, count: cipherCount)
        try key.withUnsafeBytes { keyPtr in
            try nonceBytes.withUnsafeBufferPointer { noncePtr in
                guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                      EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_SET_IVLEN, Int32(AESGCM.nonceByteCount), nil) == 1,
                      EVP_DecryptInit_ex(context, nil, nil, keyPtr.bindMemory(to: UInt8.self).baseAddress,
                                         noncePtr.baseAddress) == 1
                else { throw CryptoError.fromOpenSSL("AES-GCM decrypt init") }
            }
        }
        var written: Int32 = 0
        if !aad.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &written, aad, Int32(aad.count)) == 1 else {
                throw CryptoError.fromOpenSSL("AES-GCM aad")
            }
        }
        let ok = try sealed.withUnsafeBufferPointer { inPtr -> Bool in
            try out.withUnsafeMutableBufferPointer { outPtr -> Bool in
                var total: Int32 = 0
                if cipherCount > 0 {
                    guard EVP_DecryptUpdate(context, outPtr.baseAddress, &written, inPtr.baseAddress, Int32(cipherCount)) == 1 else {
                        throw CryptoError.fromOpenSSL("AES-GCM decrypt")
                    }
                    total = written
                }
                guard EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_SET_TAG, Int32(AESGCM.tagByteCount), &tag) == 1 else {
                    throw CryptoError.fromOpenSSL("AES-GCM set tag")
                }
                var scratch = [UInt8](repeating: 0, count: 16)
                let finalOK = scratch.withUnsafeMutableBufferPointer { s in
                    EVP_DecryptFinal_ex(context, cipherCount > 0 ? outPtr.baseAddress! + Int(total) : s.baseAddress, &written)
                }
                return finalOK == 1
            }
        }
        guard ok else {
            ERR_clear_error()
            out.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            throw CryptoError.authenticationFailed
        }
        return out
    }

    private func checkNonce(_ nonce: [UInt8]) throws {
        guard nonce.count == AESGCM.nonceByteCount else {
            throw CryptoError.invalidLength(what: "AES-GCM nonce", expected: AESGCM.nonceByteCount, actual: nonce.count)
        }
    }
}
