import CofferCrypto
import Testing

/// RFC 4231 §4 test cases for HMAC-SHA-256.
struct HMACSHA256Tests {
    struct Vector: Sendable, CustomStringConvertible {
        let name: String, key: [UInt8], data: [UInt8], mac: String
        var description: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "4.2", key: [UInt8](repeating: 0x0b, count: 20), data: "Hi There".bytes,
               mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(name: "4.3", key: "Jefe".bytes, data: "what do ya want for nothing?".bytes,
               mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Vector(name: "4.4", key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
               mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(name: "4.5", key: Array(1...25), data: [UInt8](repeating: 0xcd, count: 50),
               mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Vector(name: "4.7", key: [UInt8](repeating: 0xaa, count: 131),
               data: "Test Using Larger Than Block-Size Key - Hash Key First".bytes,
               mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(name: "4.8", key: [UInt8](repeating: 0xaa, count: 131),
               data: ("This is a test using a larger than block-size key and a larger than block-size data. "
                      + "The key needs to be hashed before being used by the HMAC algorithm.").bytes,
               mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("RFC 4231 vectors", arguments: vectors)
    func rfc4231(_ v: Vector) throws {
        #expect(try HMACSHA256.authenticate(v.data, key: v.key).hex == v.mac)
    }

    @Test("RFC 4231 4.6: truncated output matches the first 128 bits")
    func truncation() throws {
        let mac = try HMACSHA256.authenticate("Test With Truncation".bytes, key: [UInt8](repeating: 0x0c, count: 20))
        #expect(Array(mac.prefix(16)).hex == "a3b6167473100ee06e0c796c2955552b")
    }

    @Test("a reused context gives the same MAC every time, and keys differ")
    func reuse() throws {
        let ctx = try HMACSHA256(key: "Jefe".bytes)
        let a = try ctx.authenticate("what do ya want for nothing?".bytes)
        let b = try ctx.authenticate("what do ya want for nothing?".bytes)
        #expect(a == b)
        #expect(a.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(try HMACSHA256.authenticate("x".bytes, key: "k1".bytes) != HMACSHA256.authenticate("x".bytes, key: "k2".bytes))
    }

    @Test("a duplicated context MACs under the same key, and works on after its original is gone")
    func duplicate() throws {
        var original: HMACSHA256? = try HMACSHA256(key: "Jefe".bytes)
        let copy = try original!.duplicate()
        #expect(try original!.authenticate("what do ya want for nothing?".bytes).hex
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        original = nil
        for vector in Self.vectors where vector.name == "4.3" {
            #expect(try copy.authenticate(vector.data).hex == vector.mac)
        }
        #expect(try copy.authenticate("Hi There".bytes) != HMACSHA256.authenticate("Hi There".bytes, key: "other".bytes))
    }
}
