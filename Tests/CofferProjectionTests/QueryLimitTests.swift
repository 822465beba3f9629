import CofferProjection
import CofferStore
import Foundation
import Testing

/// Issue 15, class 7: analyst SQL cannot run forever or take the machine's memory.
struct QueryLimitTests {
    @Test("a recursive CTE named like an allowed table is stopped at the time limit, and the stop is audited")
    func recursiveCTEStops() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["analytics"])
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "analytics", action: .query)
        reader.limits.seconds = 0.5
        let start = Date()
        let sql = "WITH RECURSIVE single_view(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM single_view) SELECT count(*) FROM single_view"
        #expect {
            try reader.query(sql)
        } throws: { error in
            (error as? QueryError)?.message.hasPrefix("stopped: the query ran longer than 0.5 s") == true
        }
        #expect(Date().timeIntervalSince(start) < 5)
        let denied = try fixture.owner.auditEntries(AuditFilter(action: .query, decision: .denied))
        #expect(denied.count == 1 && denied.first?.details.reason?.hasPrefix("stopped:") == true)
        // The reader still answers afterwards.
        #expect(try reader.query("SELECT count(*) FROM single_view").rows == [[.integer(3)]])
    }

    @Test("values and results that would take gigabytes are refused")
    func memoryBounded() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["analytics"])
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "analytics", action: .query)
        for sql in ["SELECT printf('%.*c', 20000000, 'x') FROM single_view",
                    "SELECT replace(printf('%.*c', 2000000, 'x'), 'x', 'xxxxxxxxxx') FROM single_view",
                    "SELECT group_concat(printf('%.*c', 9000000, 'x')) FROM single_view"] {
            // SQLite either refuses the value (SQLITE_TOOBIG) or, for printf, gives up on it: no value over the limit.
            do {
                let result = try reader.query(sql)
                #expect(result.rows.joined().allSatisfy { $0.description.utf8.count <= Int(reader.limits.valueBytes) }, "\(sql)")
            } catch let error as QueryError {
                #expect(error.message.hasPrefix("stopped: the query needs more memory"), "\(sql): \(error.message)")
            }
        }
        reader.limits.resultBytes = 1 << 20
        #expect {
            try reader.query("SELECT printf('%.*c', 600000, 'x') FROM single_view")
        } throws: { error in
            (error as? QueryError)?.message.hasPrefix("stopped: the result is larger than 1 MiB") == true
        }
    }
}
