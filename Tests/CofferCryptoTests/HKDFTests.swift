import CofferCrypto
import Testing

/// RFC 5869 Appendix A test cases for HKDF-SHA256.
struct HKDFTests {
    @Test("RFC 5869 A.1: basic")
    func basic() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let okm = try ikm.withUnsafeBytes {
            try HKDF.deriveBytes(inputKeyMaterial: $0, salt: Array(0x00...0x0c), info: Array(0xf0...0xf9), length: 42)
        }
        #expect(okm.copyBytes().hex == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test("RFC 5869 A.2: longer inputs and outputs")
    func long() throws {
        let ikm = [UInt8](0x00...0x4f)
        let okm = try ikm.withUnsafeBytes {
            try HKDF.deriveBytes(inputKeyMaterial: $0, salt: Array(0x60...0xaf), info: Array(0xb0...0xff), length: 82)
        }
        #expect(okm.copyBytes().hex == "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")
    }

    @Test("RFC 5869 A.3: zero-length salt and info")
    func empty() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let okm = try ikm.withUnsafeBytes { try HKDF.deriveBytes(inputKeyMaterial: $0, salt: [], info: [], length: 42) }
        #expect(okm.copyBytes().hex == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test("different labels give independent keys; the same label the same key")
    func labels() throws {
        let master = try SymmetricKey.random()
        let a = try HKDF.deriveKey(from: master, label: "coffer/a")
        let b = try HKDF.deriveKey(from: master, label: "coffer/b")
        let a2 = try HKDF.deriveKey(from: master, label: "coffer/a")
        #expect(!a.bytes.constantTimeEquals(b.bytes))
        #expect(a.bytes.constantTimeEquals(a2.bytes))
    }

    @Test("RFC 5869 A.1 and A.3 step by step: Extract gives the PRK, Expand the OKM (HPKE uses the steps)")
    func extractThenExpand() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let prk = try HKDF.extract(salt: Array(0x00...0x0c), inputKeyMaterial: ikm)
        #expect(prk.copyBytes().hex == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        let okm = try HKDF.expand(pseudorandomKey: prk, info: Array(0xf0...0xf9), length: 42)
        #expect(okm.copyBytes().hex == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        let unsalted = try HKDF.extract(salt: [], inputKeyMaterial: ikm)
        #expect(unsalted.copyBytes().hex == "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")
    }
}
