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
///
/// The cipher is set up once per direction; each message then only sets key
/// and nonce. (Passing the cipher on every message makes OpenSSL 3 fetch it
/// from the provider again: measured at 6 % of reading the log.)
public final class AESGCMContext {
    private let context: OpaquePointer
    /// 1 when set up for encryption, 0 for decryption, nil before the first message or after a failure.
    private var direction: Int32?
    /// The key length the cipher is set up for: 32 (AES-256), or 16 (AES-128, for HPKE's test vectors).
    private var keyLength = SymmetricKey.byteCount
    /// Whether a message given in pieces is being sealed (`startSealing` … `finishSealing`).
    private var sealing = false

    /// Allocates the OpenSSL cipher context.
    public init() throws {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw CryptoError.fromOpenSSL("EVP_CIPHER_CTX_new") }
        context = ctx
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Readies the context for one message: the cipher when the direction
    /// changes, then the key and nonce.
    private func start(encrypting: Bool, key: SymmetricKey, nonce: UnsafeRawBufferPointer) throws {
        try key.withUnsafeBytes { try start(encrypting: encrypting, keyBytes: $0, nonce: nonce) }
    }

    private func start(encrypting: Bool, keyBytes: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) throws {
        sealing = false   // a message in pieces ends when another starts
        try Self.checkNonce(nonce)
        guard keyBytes.count == 32 || keyBytes.count == 16 else {
            throw CryptoError.invalidLength(what: "AES-GCM key", expected: 32, actual: keyBytes.count)
        }
        let wanted: Int32 = encrypting ? 1 : 0
        let what = encrypting ? "AES-GCM encrypt init" : "AES-GCM decrypt init"
        if direction != wanted || keyLength != keyBytes.count {
            direction = nil
            let cipher = keyBytes.count == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm()
            guard EVP_CipherInit_ex(context, cipher, nil, nil, nil, wanted) == 1,
                  EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_SET_IVLEN, Int32(AESGCM.nonceByteCount), nil) == 1
            else { throw CryptoError.fromOpenSSL(what) }
            direction = wanted
            keyLength = keyBytes.count
        }
        let ok = EVP_CipherInit_ex(context, nil, nil, keyBytes.bindMemory(to: UInt8.self).baseAddress,
                                   nonce.baseAddress?.assumingMemoryBound(to: UInt8.self), wanted)
        guard ok == 1 else {
            direction = nil
            throw CryptoError.fromOpenSSL(what)
        }
    }

    /// Feeds the associated data (none when empty).
    private func authenticate(_ aad: UnsafeRawBufferPointer, encrypting: Bool) throws {
        guard aad.count > 0, let base = aad.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var written: Int32 = 0
        let ok = encrypting ? EVP_EncryptUpdate(context, nil, &written, base, Int32(aad.count))
            : EVP_DecryptUpdate(context, nil, &written, base, Int32(aad.count))
        guard ok == 1 else { throw CryptoError.fromOpenSSL("AES-GCM aad") }
    }

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
        try key.withUnsafeBytes { try seal(plaintext, keyBytes: $0, nonce: nonce, authenticating: aad, prefix: prefix) }
    }

    /// Seals under raw key bytes: 32 (AES-256-GCM) or 16 (AES-128-GCM). For
    /// keys derived inside a protocol (HPKE's); stored keys are `SymmetricKey`s.
    package func seal(_ plaintext: UnsafeRawBufferPointer, keyBytes: UnsafeRawBufferPointer, nonce: some Collection<UInt8>,
                      authenticating aad: [UInt8] = [], prefix: [UInt8] = []) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: prefix.count + plaintext.count + AESGCM.tagByteCount)
        out.replaceSubrange(0..<prefix.count, with: prefix)
        try Array(nonce).withUnsafeBytes { try start(encrypting: true, keyBytes: keyBytes, nonce: $0) }
        try aad.withUnsafeBytes { try authenticate($0, encrypting: true) }
        try out.withUnsafeMutableBufferPointer { outPtr in
            let base = outPtr.baseAddress! + prefix.count
            try encrypt(plaintext, into: base)
            try finishEncrypting(tag: base + plaintext.count)
        }
        return out
    }

    /// Encrypts `plaintext` into `out` (as many bytes), fed to OpenSSL in pieces of at most 1 GiB.
    private func encrypt(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) throws {
        guard let input = plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var total = 0, written: Int32 = 0
        while total < plaintext.count {
            let piece = min(plaintext.count - total, 1 << 30)
            guard EVP_EncryptUpdate(context, out + total, &written, input + total, Int32(piece)) == 1 else {
                failed()
                throw CryptoError.fromOpenSSL("AES-GCM encrypt")
            }
            total += Int(written)
        }
    }

    /// Ends the message being encrypted and writes its tag at `tag` (GCM's final step writes nothing else).
    private func finishEncrypting(tag: UnsafeMutablePointer<UInt8>) throws {
        var written: Int32 = 0
        guard EVP_EncryptFinal_ex(context, tag, &written) == 1 else {
            failed()
            throw CryptoError.fromOpenSSL("AES-GCM encrypt final")
        }
        guard EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_GET_TAG, Int32(AESGCM.tagByteCount), tag) == 1 else {
            failed()
            throw CryptoError.fromOpenSSL("AES-GCM get tag")
        }
    }

    /// A piece or an end without `startSealing`.
    private static let noMessageStarted = CryptoError.invalidParameter("AES-GCM: no message in pieces started (startSealing)")

    /// After an OpenSSL failure: the next message sets the cipher up again, and no message in pieces goes on.
    private func failed() {
        direction = nil
        sealing = false
    }

    /// Starts sealing one message given in pieces, for files too large to hold twice:
    /// `sealPiece` then encrypts each piece in order and `finishSealing` gives the tag. The
    /// pieces' ciphertexts joined, then the tag, are what `seal` returns for the whole message.
    public func startSealing(key: SymmetricKey, nonce: some Collection<UInt8>, authenticating aad: [UInt8] = []) throws {
        try Array(nonce).withUnsafeBytes { try start(encrypting: true, key: key, nonce: $0) }
        try aad.withUnsafeBytes { try authenticate($0, encrypting: true) }
        sealing = true
    }

    /// The ciphertext of the next piece of the message `startSealing` began (as long as the piece).
    public func sealPiece(_ plaintext: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard sealing else { throw Self.noMessageStarted }
        guard !plaintext.isEmpty else { return [] }
        var out = [UInt8](repeating: 0, count: plaintext.count)
        try out.withUnsafeMutableBufferPointer { try encrypt(plaintext, into: $0.baseAddress!) }
        return out
    }

    /// Ends the message `startSealing` began: its tag.
    public func finishSealing() throws -> [UInt8] {
        guard sealing else { throw Self.noMessageStarted }
        sealing = false
        var tag = [UInt8](repeating: 0, count: AESGCM.tagByteCount)
        try tag.withUnsafeMutableBufferPointer { try finishEncrypting(tag: $0.baseAddress!) }
        return tag
    }

    /// See `AESGCM.open`.
    public func open(_ sealed: [UInt8], key: SymmetricKey, nonce: some Collection<UInt8>,
                     authenticating aad: [UInt8] = []) throws -> [UInt8] {
        try sealed.withUnsafeBytes { sealed in
            try Array(nonce).withUnsafeBytes { nonce in
                try aad.withUnsafeBytes { try open(sealed, key: key, nonce: nonce, authenticating: $0) }
            }
        }
    }

    /// Opens `sealed` where it lies (e.g. a row SQLite holds), without copying
    /// it, the nonce or the associated data first: the plaintext is the one
    /// allocation (the log is read an event at a time through this).
    public func open(_ sealed: UnsafeRawBufferPointer, key: SymmetricKey, nonce: UnsafeRawBufferPointer,
                     authenticating aad: UnsafeRawBufferPointer) throws -> [UInt8] {
        try key.withUnsafeBytes { try open(sealed, keyBytes: $0, nonce: nonce, authenticating: aad) }
    }

    /// Opens under raw key bytes (see `seal(_:keyBytes:nonce:authenticating:prefix:)`).
    package func open(_ sealed: UnsafeRawBufferPointer, keyBytes: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                      authenticating aad: UnsafeRawBufferPointer) throws -> [UInt8] {
        try Self.checkNonce(nonce)
        guard sealed.count >= AESGCM.tagByteCount, let input = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw CryptoError.authenticationFailed
        }
        let cipherCount = sealed.count - AESGCM.tagByteCount
        try start(encrypting: false, keyBytes: keyBytes, nonce: nonce)
        try authenticate(aad, encrypting: false)
        var out = [UInt8](repeating: 0, count: cipherCount)
        let ok = try out.withUnsafeMutableBufferPointer { outPtr -> Bool in
            var written: Int32 = 0, total: Int32 = 0
            if cipherCount > 0 {
                guard EVP_DecryptUpdate(context, outPtr.baseAddress, &written, input, Int32(cipherCount)) == 1 else {
                    throw CryptoError.fromOpenSSL("AES-GCM decrypt")
                }
                total = written
            }
            // OpenSSL takes the expected tag through a mutable pointer: a copy on the stack.
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: AESGCM.tagByteCount) { tag in
                _ = tag.initialize(from: UnsafeBufferPointer(start: input + cipherCount, count: AESGCM.tagByteCount))
                guard EVP_CIPHER_CTX_ctrl(context, COFFER_EVP_CTRL_GCM_SET_TAG, Int32(AESGCM.tagByteCount), tag.baseAddress) == 1 else {
                    return false
                }
                // GCM's final step writes nothing; an empty plaintext still needs a valid pointer.
                return EVP_DecryptFinal_ex(context, cipherCount > 0 ? outPtr.baseAddress! + Int(total) : tag.baseAddress, &written) == 1
            }
        }
        guard ok else {
            ERR_clear_error()
            direction = nil
            out.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            throw CryptoError.authenticationFailed
        }
        return out
    }

    private static func checkNonce(_ nonce: UnsafeRawBufferPointer) throws {
        guard nonce.count == AESGCM.nonceByteCount else {
            throw CryptoError.invalidLength(what: "AES-GCM nonce", expected: AESGCM.nonceByteCount, actual: nonce.count)
        }
    }
}
