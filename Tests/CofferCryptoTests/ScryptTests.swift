import CofferCrypto
import Testing

/// RFC 7914 §12 test vectors for scrypt.
struct ScryptTests {
    struct Vector: Sendable, CustomStringConvertible {
        let password: String, salt: String, logN: Int, r: Int, p: Int, output: String
        var description: String { "N=2^\(logN) r=\(r) p=\(p)" }
    }

    static let vectors: [Vector] = [
        Vector(password: "", salt: "", logN: 4, r: 1, p: 1,
               output: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                   + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"),
        Vector(password: "password", salt: "NaCl", logN: 10, r: 8, p: 16,
               output: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                   + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"),
        Vector(password: "pleaseletmein", salt: "SodiumChloride", logN: 14, r: 8, p: 1,
               output: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
                   + "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"),
    ]

    @Test("RFC 7914 vectors", arguments: vectors)
    func rfc7914(_ v: Vector) throws {
        let out = try v.password.bytes.withUnsafeBytes {
            try Scrypt.deriveBytes(password: $0, salt: v.salt.bytes,
                                   parameters: .init(logN: v.logN, r: v.r, p: v.p), length: 64)
        }
        #expect(out.copyBytes().hex == v.output)
    }

    @Test("out-of-range cost is refused with a clear error")
    func badParameters() {
        #expect(throws: CryptoError.self) {
            try Scrypt.deriveKey(passphrase: SecureBytes("pw".bytes), salt: [1], parameters: .init(logN: 0, r: 8, p: 1))
        }
    }
}
