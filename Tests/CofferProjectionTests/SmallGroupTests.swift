@testable import CofferProjection
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

/// The week generalisation, checked against the calendar for every day of several years.
struct WeekTests {
    @Test("mondayOfWeek gives the Monday of the date's ISO week, for every day from 1999 to 2031")
    func everyDay() throws {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = calendar.timeZone
        formatter.dateFormat = "yyyy-MM-dd"
        var date = formatter.date(from: "1999-01-01")!
        let end = formatter.date(from: "2031-12-31")!
        while date <= end {
            let text = formatter.string(from: date)
            let monday = calendar.date(from: calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date))!
            #expect(FieldTransformer.mondayOfWeek(text + "T10:12:44.000Z") == formatter.string(from: monday), "\(text)")
            date = date.addingTimeInterval(86_400)
        }
        #expect(FieldTransformer.mondayOfWeek("not a date") == nil)
        #expect(FieldTransformer.mondayOfWeek("2026-13-01") == nil)
    }
}
