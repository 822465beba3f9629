import CofferCrypto
import Testing

/// NIST GCM specification test cases 13–16 (AES-256, 96-bit IV), as published
/// with SP 800-38D ("The Galois/Counter Mode of Operation", McGrew & Viega).
struct AESGCMTests {
    struct Vector: Sendable, CustomStringConvertible {
        let name: String, key: String, iv: String, plaintext: String, aad: String, ciphertext: String, tag: String
        var description: String { name }
    }

    static let k15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    static let p15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
    static let c15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

    static let vectors: [Vector] = [
        Vector(name: "TC13", key: String(repeating: "00", count: 32), iv: String(repeating: "00", count: 12),
               plaintext: "", aad: "", ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        Vector(name: "TC14", key: String(repeating: "00", count: 32), iv: String(repeating: "00", count: 12),
               plaintext: String(repeating: "00", count: 16), aad: "",
               ciphertext: "cea7403d4d606b6e074ec5d3baf39d18", tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        Vector(name: "TC15", key: k15, iv: "cafebabefacedbaddecaf888", plaintext: p15, aad: "",
               ciphertext: c15, tag: "b094dac5d93471bdec1a502270e3cc6c"),
        Vector(name: "TC16", key: k15, iv: "cafebabefacedbaddecaf888", plaintext: String(p15.prefix(120)),
               aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
               ciphertext: String(c15.prefix(120)), tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    @Test("NIST vectors: seal", arguments: vectors)
    func seal(_ v: Vector) throws {
        let key = try SymmetricKey(copying: [UInt8](hex: v.key))
        let sealed = try AESGCM.seal([UInt8](hex: v.plaintext), key: key, nonce: [UInt8](hex: v.iv),
                                     authenticating: [UInt8](hex: v.aad))
        #expect(sealed.hex == v.ciphertext + v.tag)
    }

    @Test("NIST vectors: open", arguments: vectors)
    func open(_ v: Vector) throws {
        let key = try SymmetricKey(copying: [UInt8](hex: v.key))
        let plain = try AESGCM.open([UInt8](hex: v.ciphertext + v.tag), key: key, nonce: [UInt8](hex: v.iv),
                                    authenticating: [UInt8](hex: v.aad))
        #expect(plain.hex == v.plaintext)
    }

    @Test("any flipped bit in ciphertext, tag or AAD, or a wrong key, fails authentication")
    func tamper() throws {
        let v = Self.vectors[3]
        let key = try SymmetricKey(copying: [UInt8](hex: v.key))
        let sealed = [UInt8](hex: v.ciphertext + v.tag)
        let aad = [UInt8](hex: v.aad), iv = [UInt8](hex: v.iv)
        for index in stride(from: 0, to: sealed.count, by: 7) {
            var bad = sealed
            bad[index] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(bad, key: key, nonce: iv, authenticating: aad) }
        }
        var badAAD = aad
        badAAD[0] ^= 0x80
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(sealed, key: key, nonce: iv, authenticating: badAAD) }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(sealed, key: SymmetricKey.random(), nonce: iv, authenticating: aad)
        }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(Array(sealed.prefix(10)), key: key, nonce: iv) }
    }

    @Test("a reused context interleaving keys, directions and failures gives the one-shot results")
    func contextReuse() throws {
        let ctx = try AESGCMContext()
        for v in Self.vectors {
            let key = try SymmetricKey(copying: [UInt8](hex: v.key))
            let sealed = try ctx.seal([UInt8](hex: v.plaintext), key: key, nonce: [UInt8](hex: v.iv),
                                      authenticating: [UInt8](hex: v.aad))
            #expect(sealed.hex == v.ciphertext + v.tag)
            #expect(try ctx.open(sealed, key: key, nonce: [UInt8](hex: v.iv), authenticating: [UInt8](hex: v.aad)).hex == v.plaintext)
            // A failed open leaves the context usable, for either direction.
            var tampered = sealed
            tampered[tampered.count - 1] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) {
                try ctx.open(tampered, key: key, nonce: [UInt8](hex: v.iv), authenticating: [UInt8](hex: v.aad))
            }
            #expect(try ctx.open(sealed, key: key, nonce: [UInt8](hex: v.iv), authenticating: [UInt8](hex: v.aad)).hex == v.plaintext)
        }
        // Runs of one direction under changing keys (how the log is read and written).
        let sealedAll = try Self.vectors.map { v in
            try ctx.seal([UInt8](hex: v.plaintext), key: SymmetricKey(copying: [UInt8](hex: v.key)), nonce: [UInt8](hex: v.iv),
                         authenticating: [UInt8](hex: v.aad))
        }
        #expect(sealedAll.map(\.hex) == Self.vectors.map { $0.ciphertext + $0.tag })
        for (v, sealed) in zip(Self.vectors, sealedAll) {
            #expect(try ctx.open(sealed, key: SymmetricKey(copying: [UInt8](hex: v.key)), nonce: [UInt8](hex: v.iv),
                                 authenticating: [UInt8](hex: v.aad)).hex == v.plaintext)
        }
    }

    @Test("a nonce of the wrong length is refused")
    func nonceLength() throws {
        let key = try SymmetricKey.random()
        #expect(throws: CryptoError.invalidLength(what: "AES-GCM nonce", expected: 12, actual: 8)) {
            try AESGCM.seal([1, 2, 3], key: key, nonce: [UInt8](repeating: 0, count: 8))
        }
    }
}

/// The in-place form used for projection images: the same ciphertext and tag as the
/// array form (checked against NIST TC16), behind the prefix.
struct AESGCMInPlaceTests {
    @Test("sealing a buffer in place with a prefix gives prefix ‖ the NIST ciphertext ‖ tag, and opens")
    func inPlaceWithPrefix() throws {
        let vector = AESGCMTests.vectors[3]
        let key = try SymmetricKey(copying: [UInt8](hex: vector.key))
        let plaintext = [UInt8](hex: vector.plaintext)
        let prefix = Array("CPJ1".utf8)
        let sealed = try plaintext.withUnsafeBytes {
            try AESGCMContext().seal($0, key: key, nonce: [UInt8](hex: vector.iv),
                                     authenticating: [UInt8](hex: vector.aad), prefix: prefix)
        }
        #expect(Array(sealed.prefix(4)) == prefix)
        #expect(Array(sealed.dropFirst(4)).hex == vector.ciphertext + vector.tag)
        let opened = try AESGCM.open(Array(sealed.dropFirst(4)), key: key, nonce: [UInt8](hex: vector.iv),
                                     authenticating: [UInt8](hex: vector.aad))
        #expect(opened == plaintext)
    }
}

/// Sealing a message given in pieces (projection files and the build state are written so).
struct AESGCMPiecesTests {
    @Test("NIST vectors sealed in pieces of every split give the vectors' ciphertext and tag", arguments: AESGCMTests.vectors)
    func pieces(_ vector: AESGCMTests.Vector) throws {
        let key = try SymmetricKey(copying: [UInt8](hex: vector.key))
        let plaintext = [UInt8](hex: vector.plaintext)
        let context = try AESGCMContext()
        // Two pieces split at every position, an empty piece among them.
        for split in 0...plaintext.count {
            try context.startSealing(key: key, nonce: [UInt8](hex: vector.iv), authenticating: [UInt8](hex: vector.aad))
            var sealed: [UInt8] = []
            for piece in [plaintext[..<split], plaintext[split...], []] {
                sealed += try Array(piece).withUnsafeBytes { try context.sealPiece($0) }
            }
            sealed += try context.finishSealing()
            #expect(sealed.hex == vector.ciphertext + vector.tag, "split at \(split)")
        }
    }

    @Test("a piece without a started message, or after another message began, is refused")
    func misuse() throws {
        let key = try SymmetricKey(copying: [UInt8](repeating: 7, count: 32))
        let context = try AESGCMContext()
        #expect(throws: CryptoError.self) { try [UInt8](repeating: 1, count: 8).withUnsafeBytes { try context.sealPiece($0) } }
        #expect(throws: CryptoError.self) { try context.finishSealing() }
        try context.startSealing(key: key, nonce: [UInt8](repeating: 0, count: 12))
        _ = try context.seal([1, 2, 3], key: key, nonce: [UInt8](repeating: 1, count: 12))
        #expect(throws: CryptoError.self) { try context.finishSealing() }
    }
}
