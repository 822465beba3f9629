import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing
import CofferFormats
import CofferTestSupport

struct ProjectionOrderTests {
    /// Rows go in in the order SQLite keeps `customer_id` (bytes of UTF-8): the
    /// sort compares 8-byte prefixes as numbers and whole strings on ties.
    @Test func testIdsAreOrderedByTheirUTF8Bytes() {
        let ids = ["user-10", "user-9", "user-100", "user-1", "", "a", "ab", "user-10é", "user-10e", "Zed", "zed", "é", "😀",
                   "0123456789abcdef", "0123456789abcdee", "0123456789", "01234567", "0123456"]
            + (0..<300).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }
        let order = ProjectionBuilder.byteOrder(of: ids)
        #expect(order.map { ids[$0] } == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(Set(order).count == ids.count)
    }

    /// Segment members go in many rows a statement, the rest one at a time: every id lands once.
    @Test func testSegmentMembersAreInsertedInBatchesAndSingly() throws {
        for count in [0, 1, ProjectionBuilder.membersPerInsert - 1, ProjectionBuilder.membersPerInsert, 2 * ProjectionBuilder.membersPerInsert + 22] {
            let queue = try DatabaseQueue()
            let ids = (0..<count).map { String(format: "id-%05d", $0) }
            let stored = try queue.write { db -> [Row] in
                try db.execute(sql: "CREATE TABLE segment_members (segment TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (segment, customer_id)) WITHOUT ROWID")
                let single = try db.makeStatement(sql: ProjectionBuilder.memberInsertSQL(rows: 1))
                let batch = try db.makeStatement(sql: ProjectionBuilder.memberInsertSQL(rows: ProjectionBuilder.membersPerInsert))
                try ProjectionBuilder.insert(ids, of: "loyal", batch: batch, single: single)
                try ProjectionBuilder.insert(["other"], of: "lapsing", batch: batch, single: single)
                return try Row.fetchAll(db, sql: "SELECT segment, customer_id FROM segment_members ORDER BY segment, customer_id")
            }
            #expect(stored.map { $0[0] as String } == ["lapsing"] + Array(repeating: "loyal", count: count), "\(count)")
            #expect(stored.map { $0[1] as String } == ["other"] + ids, "\(count)")
        }
    }
}
