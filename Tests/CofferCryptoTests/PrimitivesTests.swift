import CofferCrypto
import Testing

/// SHA-256 (FIPS 180-4 examples), key wrapping, random and secure memory.
struct PrimitivesTests {
    @Test("FIPS 180-4 SHA-256 examples")
    func sha256() throws {
        #expect(try SHA256.hash("abc".bytes).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".bytes).hex
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(try SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("a wrapped key unwraps only with the same KEK and context")
    func keyWrap() throws {
        let kek = try SymmetricKey.random()
        let secret = try SecureBytes.random(count: 32)
        let wrapped = try KeyWrap.wrap(secret, with: kek, context: "subject-1".bytes)
        #expect(wrapped.count == 32 + KeyWrap.overhead)
        #expect(try KeyWrap.unwrap(wrapped, with: kek, context: "subject-1".bytes).constantTimeEquals(secret))
        #expect(throws: CryptoError.authenticationFailed) { try KeyWrap.unwrap(wrapped, with: kek, context: "subject-2".bytes) }
        #expect(throws: CryptoError.authenticationFailed) {
            try KeyWrap.unwrap(wrapped, with: SymmetricKey.random(), context: "subject-1".bytes)
        }
        // Two wraps of the same key differ (random nonce), so wrapped keys do not reveal equality.
        #expect(try KeyWrap.wrap(secret, with: kek, context: []) != KeyWrap.wrap(secret, with: kek, context: []))
    }

    @Test("random bytes differ between draws and pools hand out distinct nonces")
    func random() throws {
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
        let pool = RandomPool(capacity: 64)
        var seen = Set<[UInt8]>()
        for _ in 0..<100 { seen.insert(Array(try pool.next(12))) }
        #expect(seen.count == 100)
    }

    @Test("constant-time comparison and redacted descriptions")
    func constantTime() throws {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
        let key = try SymmetricKey(copying: [UInt8](repeating: 0x41, count: 32))
        #expect(!"\(key)".contains("41"))
        #expect("\(key.bytes)".contains("redacted"))
        #expect(throws: CryptoError.self) { try SymmetricKey(copying: [UInt8](repeating: 0, count: 16)) }
    }
}
