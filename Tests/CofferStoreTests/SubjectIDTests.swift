import CofferStore
import Foundation
import Testing
import CofferFormats

/// Subject ids are held as two words; what they show must still be their 16 bytes.
struct SubjectIDTests {
    @Test("bytes, hex, equality and hashing round-trip; order is the bytes' order, as SQLite sorts them")
    func bytesAndOrder() throws {
        let ids = try (0..<500).map { _ in try SubjectID.random() }
            + [try SubjectID(bytes: Array(repeating: 0, count: 16)), try SubjectID(bytes: Array(repeating: 0xff, count: 16)),
               try SubjectID(bytes: [0x01] + Array(repeating: 0, count: 15)), try SubjectID(bytes: Array(repeating: 0, count: 15) + [0x01])]
        for id in ids {
            #expect(try SubjectID(bytes: id.bytes) == id)
            #expect(SubjectID(hex: id.hex) == id)
            #expect(id.withUnsafeBytes { Array($0) } == id.bytes)
            #expect(id.leadingBits == Int(id.bytes[0]) << 8 | Int(id.bytes[1]))
        }
        #expect(Set(ids).count == ids.count)
        #expect(ids.sorted().map(\.bytes) == ids.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
        #expect(throws: (any Error).self) { try SubjectID(bytes: [1, 2, 3]) }
    }

    @Test("hex of any byte collection: every byte value, slices, raw buffers and non-contiguous collections")
    func hex() throws {
        let all = (0...255).map(UInt8.init)
        let expected = all.map { String(format: "%02x", $0) }.joined()
        #expect(all.hexString == expected)
        #expect(all[16..<32].hexString == String(expected.dropFirst(32).prefix(32)))
        #expect(all.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[250...]).hexString } == "fafbfcfdfeff")
        #expect(all.reversed().hexString == all.reversed().map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().hexString == "")
        #expect([UInt8](hexString: expected) == all)
    }
}

