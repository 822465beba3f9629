@testable import CofferCrypto
import Testing

/// X25519 against RFC 7748 §6.1, and HPKE's base mode against RFC 9180 Appendix A.1.1.
struct HPKETests {
    @Test("X25519: RFC 7748 §6.1 key pairs and shared secret")
    func x25519Vectors() throws {
        let alice = try X25519.PrivateKey(rawRepresentation: SecureBytes([UInt8](hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
        let bob = try X25519.PrivateKey(rawRepresentation: SecureBytes([UInt8](hex: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")))
        #expect(alice.publicKey.rawRepresentation.hex == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        #expect(bob.publicKey.rawRepresentation.hex == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        #expect(try alice.sharedSecret(with: bob.publicKey).copyBytes().hex == shared)
        #expect(try bob.sharedSecret(with: alice.publicKey).copyBytes().hex == shared)
        // A low-order point (here zero) would give an all-zero secret: refused.
        #expect(throws: CryptoError.self) { try alice.sharedSecret(with: X25519.PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))) }
    }

    static let info = [UInt8](hex: "4f6465206f6e2061204772656369616e2055726e")
    static let skE = [UInt8](hex: "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
    static let skR = [UInt8](hex: "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")

    @Test("HPKE base mode: RFC 9180 A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM)")
    func rfc9180BaseVector() throws {
        let ephemeral = try X25519.PrivateKey(rawRepresentation: SecureBytes(Self.skE))
        let recipient = try X25519.PrivateKey(rawRepresentation: SecureBytes(Self.skR))
        #expect(ephemeral.publicKey.rawRepresentation.hex == "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
        #expect(recipient.publicKey.rawRepresentation.hex == "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
        let dh = try ephemeral.sharedSecret(with: recipient.publicKey)
        let shared = try HPKE.sharedSecret(dh: dh, enc: ephemeral.publicKey.rawRepresentation, recipient: recipient.publicKey)
        #expect(shared.copyBytes().hex == "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc")
        let context = try HPKE.keySchedule(sharedSecret: shared, info: Self.info, aead: .aes128GCM)
        #expect(context.key.copyBytes().hex == "4531685d41d65f03dc48f6b8302c05b0")
        #expect(context.baseNonce.hex == "56d890e5accaaf011cff4b7d")
        #expect(context.exporterSecret.copyBytes().hex == "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8")

        let plaintext = [UInt8](hex: "4265617574792069732074727574682c20747275746820626561757479")
        let aad = [UInt8](hex: "436f756e742d30")
        let sealed = try HPKE.seal(plaintext, to: recipient.publicKey, info: Self.info, aad: aad, ephemeral: ephemeral, aead: .aes128GCM)
        #expect(sealed.hex == "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
            + "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a")
        #expect(try HPKE.open(sealed, with: recipient, info: Self.info, aad: aad, aead: .aes128GCM) == plaintext)
    }

    @Test("HPKE with AES-256-GCM: a round trip; another key, info, aad or a changed byte does not open")
    func aes256RoundTripAndTampering() throws {
        let recipient = try X25519.PrivateKey.generate()
        let message = Array(#"{"batch":[{"type":"track"}]}"#.utf8)
        let sealed = try HPKE.seal(message, to: recipient.publicKey, info: Array("coffer/v1/inbox".utf8), aad: [1, 2])
        #expect(sealed.count == message.count + HPKE.overhead)
        #expect(try HPKE.open(sealed, with: recipient, info: Array("coffer/v1/inbox".utf8), aad: [1, 2]) == message)
        let again = try HPKE.seal(message, to: recipient.publicKey, info: Array("coffer/v1/inbox".utf8), aad: [1, 2])
        #expect(again != sealed, "a fresh ephemeral key each time")
        #expect(throws: CryptoError.authenticationFailed) { try HPKE.open(sealed, with: X25519.PrivateKey.generate(), info: Array("coffer/v1/inbox".utf8), aad: [1, 2]) }
        #expect(throws: CryptoError.authenticationFailed) { try HPKE.open(sealed, with: recipient, info: Array("other".utf8), aad: [1, 2]) }
        #expect(throws: CryptoError.authenticationFailed) { try HPKE.open(sealed, with: recipient, info: Array("coffer/v1/inbox".utf8), aad: [1, 3]) }
        for index in [0, 40, sealed.count - 1] {
            var changed = sealed
            changed[index] ^= 1
            #expect(throws: CryptoError.authenticationFailed) { try HPKE.open(changed, with: recipient, info: Array("coffer/v1/inbox".utf8), aad: [1, 2]) }
        }
        #expect(throws: CryptoError.authenticationFailed) { try HPKE.open(Array(sealed.prefix(20)), with: recipient, info: [], aad: []) }
    }
}
