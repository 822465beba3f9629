import CofferCrypto
import Testing

/// RFC 8032 §7.1 test vectors for Ed25519.
struct Ed25519Tests {
    struct Vector: Sendable, CustomStringConvertible {
        let name: String, secret: String, publicKey: String, message: String, signature: String
        var description: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "TEST 1", secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
               publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", message: "",
               signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                   + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Vector(name: "TEST 2", secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
               publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", message: "72",
               signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                   + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Vector(name: "TEST 3", secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
               publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", message: "af82",
               signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                   + "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    @Test("RFC 8032 vectors: public key and signature", arguments: vectors)
    func rfc8032(_ v: Vector) throws {
        let key = try Ed25519.PrivateKey(seed: SecureBytes([UInt8](hex: v.secret)))
        #expect(key.publicKey.rawRepresentation.hex == v.publicKey)
        let sig = try key.signature(for: [UInt8](hex: v.message))
        #expect(sig.hex == v.signature)
        #expect(key.publicKey.isValidSignature(sig, for: [UInt8](hex: v.message)))
    }

    @Test("altered message, altered signature or another key fails verification", arguments: vectors)
    func rejects(_ v: Vector) throws {
        let pub = try Ed25519.PublicKey(rawRepresentation: [UInt8](hex: v.publicKey))
        let sig = [UInt8](hex: v.signature)
        let msg = [UInt8](hex: v.message)
        #expect(!pub.isValidSignature(sig, for: msg + [0]))
        var badSig = sig
        badSig[5] ^= 0x10
        #expect(!pub.isValidSignature(badSig, for: msg))
        #expect(!(try Ed25519.PrivateKey.generate().publicKey.isValidSignature(sig, for: msg)))
        #expect(!pub.isValidSignature(Array(sig.prefix(63)), for: msg))
    }
}
