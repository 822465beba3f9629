/// Hybrid public-key encryption, base mode (RFC 9180), with the suite
/// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM: anyone with the
/// public key seals; only the private key's holder opens. Single-shot: one
/// message per encapsulation, so the nonce is the base nonce (sequence 0).
///
/// The collector seals each request it accepts to the vault's collector key
/// this way, so the process that faces the network holds no key that opens
/// anything.
public enum HPKE {
    /// An AEAD of the suite: its RFC 9180 id and key length.
    package struct AEAD: Sendable {
        package let id: UInt16
        package let keyByteCount: Int
        /// AES-256-GCM: what Coffer uses.
        package static let aes256GCM = AEAD(id: 0x0002, keyByteCount: 32)
        /// AES-128-GCM: only for RFC 9180's test vectors (Appendix A.1).
        package static let aes128GCM = AEAD(id: 0x0001, keyByteCount: 16)
    }

    static let kemID: UInt16 = 0x0020, kdfID: UInt16 = 0x0001
    /// `enc`, the encapsulated key, precedes the ciphertext in a sealed message.
    public static let encapsulatedKeyByteCount = X25519.keyByteCount
    /// What sealing adds to a message: `enc` and the AEAD tag.
    public static let overhead = encapsulatedKeyByteCount + AESGCM.tagByteCount

    /// Seals `plaintext` to `recipient`: returns `enc ‖ ciphertext ‖ tag`.
    /// `info` binds the context (both sides must give the same); `aad` is authenticated, not encrypted.
    public static func seal(_ plaintext: [UInt8], to recipient: X25519.PublicKey, info: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        try seal(plaintext, to: recipient, info: info, aad: aad, ephemeral: X25519.PrivateKey.generate(), aead: .aes256GCM)
    }

    /// Opens what `seal` made for `recipient`'s public key.
    /// - Throws: `CryptoError.authenticationFailed` when the message was altered, or sealed to another key or `info`.
    public static func open(_ sealed: [UInt8], with recipient: X25519.PrivateKey, info: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        try open(sealed, with: recipient, info: info, aad: aad, aead: .aes256GCM)
    }

    /// `seal` with a given ephemeral key and AEAD (RFC 9180's vectors fix both).
    package static func seal(_ plaintext: [UInt8], to recipient: X25519.PublicKey, info: [UInt8], aad: [UInt8],
                             ephemeral: X25519.PrivateKey, aead: AEAD) throws -> [UInt8] {
        let enc = ephemeral.publicKey.rawRepresentation
        let dh = try ephemeral.sharedSecret(with: recipient)
        let context = try keySchedule(sharedSecret: sharedSecret(dh: dh, enc: enc, recipient: recipient), info: info, aead: aead)
        return try context.key.withUnsafeBytes { key in
            try plaintext.withUnsafeBytes {
                try AESGCMContext().seal($0, keyBytes: key, nonce: context.baseNonce, authenticating: aad, prefix: enc)
            }
        }
    }

    package static func open(_ sealed: [UInt8], with recipient: X25519.PrivateKey, info: [UInt8], aad: [UInt8], aead: AEAD) throws -> [UInt8] {
        guard sealed.count >= overhead else { throw CryptoError.authenticationFailed }
        let enc = Array(sealed[..<encapsulatedKeyByteCount])
        let dh: SecureBytes
        do { dh = try recipient.sharedSecret(with: X25519.PublicKey(rawRepresentation: enc)) } catch { throw CryptoError.authenticationFailed }
        let context = try keySchedule(sharedSecret: sharedSecret(dh: dh, enc: enc, recipient: recipient.publicKey), info: info, aead: aead)
        return try context.key.withUnsafeBytes { key in
            try sealed.withUnsafeBytes { all in
                try context.baseNonce.withUnsafeBytes { nonce in
                    try aad.withUnsafeBytes {
                        try AESGCMContext().open(UnsafeRawBufferPointer(rebasing: all[encapsulatedKeyByteCount...]), keyBytes: key,
                                                 nonce: nonce, authenticating: $0)
                    }
                }
            }
        }
    }

    /// The key schedule's outputs (RFC 9180 §5.1), base mode.
    package struct Context {
        package let key: SecureBytes
        package let baseNonce: [UInt8]
        package let exporterSecret: SecureBytes
    }

    /// DHKEM's ExtractAndExpand (RFC 9180 §4.1): the KEM's shared secret.
    package static func sharedSecret(dh: SecureBytes, enc: [UInt8], recipient: X25519.PublicKey) throws -> SecureBytes {
        let suite = Array("KEM".utf8) + bigEndian(kemID)
        let prk = try dh.withUnsafeBytes { try labeledExtract(salt: none, label: "eae_prk", ikm: $0, suite: suite) }
        return try labeledExpand(prk: prk, label: "shared_secret", info: enc + recipient.rawRepresentation, length: 32, suite: suite)
    }

    /// KeySchedule (RFC 9180 §5.1) in base mode: no PSK.
    package static func keySchedule(sharedSecret: SecureBytes, info: [UInt8], aead: AEAD) throws -> Context {
        let suite = Array("HPKE".utf8) + bigEndian(kemID) + bigEndian(kdfID) + bigEndian(aead.id)
        let pskIDHash = try labeledExtract(salt: none, label: "psk_id_hash", ikm: none, suite: suite)
        let infoHash = try info.withUnsafeBytes { try labeledExtract(salt: none, label: "info_hash", ikm: $0, suite: suite) }
        let context = [0] + pskIDHash.copyBytes() + infoHash.copyBytes()
        let secret = try sharedSecret.withUnsafeBytes { try labeledExtract(salt: $0, label: "secret", ikm: none, suite: suite) }
        return Context(key: try labeledExpand(prk: secret, label: "key", info: context, length: aead.keyByteCount, suite: suite),
                       baseNonce: try labeledExpand(prk: secret, label: "base_nonce", info: context, length: AESGCM.nonceByteCount, suite: suite).copyBytes(),
                       exporterSecret: try labeledExpand(prk: secret, label: "exp", info: context, length: 32, suite: suite))
    }

    /// LabeledExtract: HKDF-Extract(salt, "HPKE-v1" ‖ suite ‖ label ‖ ikm). The salt and `ikm` may be
    /// secrets (the DH output, the shared secret): they are read in place, and the labeled input is
    /// assembled in wiped memory, so no copy of them is left in the heap.
    static func labeledExtract(salt: UnsafeRawBufferPointer, label: String, ikm: UnsafeRawBufferPointer, suite: [UInt8]) throws -> SecureBytes {
        let prefix = Array("HPKE-v1".utf8) + suite + Array(label.utf8)
        let labeled = SecureBytes(count: prefix.count + ikm.count) { out in
            out.copyBytes(from: prefix)
            if !ikm.isEmpty { UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: ikm) }
        }
        return try labeled.withUnsafeBytes { try HKDF.extract(salt: salt, inputKeyMaterial: $0) }
    }

    /// An empty salt or input.
    private static var none: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// LabeledExpand: HKDF-Expand(prk, I2OSP(L, 2) ‖ "HPKE-v1" ‖ suite ‖ label ‖ info, L).
    static func labeledExpand(prk: SecureBytes, label: String, info: [UInt8], length: Int, suite: [UInt8]) throws -> SecureBytes {
        try HKDF.expand(pseudorandomKey: prk, info: bigEndian(UInt16(length)) + Array("HPKE-v1".utf8) + suite + Array(label.utf8) + info,
                        length: length)
    }

    private static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
}
