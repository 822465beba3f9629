import CofferProjection
import CofferStore
import Foundation
import Testing

/// Issue 16, item 5: no group below the minimum group size reaches an analyst or a marketer.
struct SmallGroupTests {
    @Test("segment show refuses a small segment, and the analyst's file lists no small group's members")
    func smallSegmentsWithheld() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build()
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "analytics", action: .segment)
        let stats = try reader.segmentStats()
        #expect(!stats.isEmpty && stats.allSatisfy { $0.size == nil }, "three people: every segment is below 5")
        for stat in stats {
            #expect(throws: ProjectionError.smallGroup(segment: stat.name, minimum: 5)) { try reader.segmentMembers(stat.name) }
        }
        #expect(try reader.query("SELECT count(*) FROM segment_members").rows == [[.integer(0)]])
        let denied = try fixture.owner.auditEntries(AuditFilter(action: .segment, decision: .denied))
        #expect(denied.count == stats.count)
        // The owner, who answers for individual people, still sees them in the support file.
        let owner = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .segment)
        let members = try owner.query("SELECT count(*) FROM segment_members").rows
        #expect(members != [[.integer(0)]])
    }
}
