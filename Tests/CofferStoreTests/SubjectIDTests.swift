import CofferStore
import Foundation
import Testing

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
}
