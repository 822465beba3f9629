@testable import CofferActivation
import CofferAnalysis
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// Issue 20, items 4 and 5: campaigns with a holdout, their exports and their uplift.
struct CampaignTests {
    @Test("assignment is a keyed hash: the same on every run, and at 10,000 people within 2 points of its shares (chi-square)")
    func assignment() throws {
        let campaign = Campaign(name: "spring", segment: "s", channel: .email, holdout: 0.1,
                                variants: [.init(name: "A", content: "x"), .init(name: "B", content: "y")])
        var rng = SeededGenerator(seed: 20)
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let people = try (0..<10_000).map { _ in try SubjectID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        var counts: [String: Int] = [:]
        for person in people { counts[try campaign.group(of: person, secret: secret), default: 0] += 1 }
        #expect(try people.prefix(100).allSatisfy { try campaign.group(of: $0, secret: secret) == campaign.group(of: $0, secret: secret) })
        let holdout = Double(counts["holdout"] ?? 0) / 10_000
        #expect(abs(holdout - 0.1) <= 0.02, "holdout share \(holdout)")
        let expected = ["holdout": 1000.0, "A": 4500.0, "B": 4500.0]
        let chiSquare = expected.reduce(0) { $0 + pow(Double(counts[$1.key] ?? 0) - $1.value, 2) / $1.value }
        #expect(chiSquare < 13.82, "χ² \(chiSquare) with 2 degrees of freedom (p = 0.001 at 13.82); counts \(counts)")
        // Another campaign's secret gives an independent split.
        let other = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let same = try people.prefix(1000).filter { try campaign.group(of: $0, secret: secret) == campaign.group(of: $0, secret: other) }.count
        #expect(same < 600, "two campaigns' splits agree no more than chance (≈ 0.1² + 2·0.45² = 0.415)")
    }

    @Test("a campaign's export leaves its holdout out and gives each member their variant; erasure takes the assignments away")
    func exportAndErasure() throws {
        let fixture = try ActivationFixture(people: 40)
        let desk = CampaignDesk(vault: fixture.owner, policy: fixture.policy)
        let created = try desk.create(Campaign(name: "spring", segment: "buyers", channel: .email, holdout: 0.3,
                                               variants: [.init(name: "A", content: "Free pastry"), .init(name: "B", content: "10 % off")]),
                                      now: fixture.now)
        #expect(created.groups.values.reduce(0, +) == 40)
        #expect(try desk.show("spring").groups == created.groups, "stored as assigned")
        #expect(throws: ActivationError.campaignExists("spring")) {
            try desk.create(Campaign(name: "spring", segment: "buyers", channel: .email, holdout: 0.1, variants: []), now: fixture.now)
        }
        let url = fixture.directory.appendingPathComponent("spring.csv")
        let report = try AudienceExporter(vault: try fixture.marketing(), policy: fixture.policy).export(campaign: "spring", destination: nil, to: url,
                                                                                                         now: fixture.now)
        let holdout = created.groups["holdout"] ?? 0
        #expect(report.members == 40 - holdout && report.leftOut[.holdout] == holdout)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines[0] == "Email Address,First Name,Last Name,BIRTHDAY_MONTH,RFM_SEGMENT,RECOMMENDED_ITEMS,VARIANT,OFFER,Tags")
        #expect(lines.dropFirst().allSatisfy { $0.contains(",A,Free pastry,") || $0.contains(",B,10 % off,") })
        #expect(report.exportID.hasPrefix("CMP-spring-"))

        // An erased person's assignment row and Campaign Assigned event go with them.
        let person = try #require(try fixture.owner.subjectSummary(for: Identifier(type: .userID, raw: "p7")!)).subject
        let assigned = try desk.assignments(of: "spring")
        #expect(assigned[person] != nil)
        let before = try fixture.owner.database.read { try fixture.owner.identityGraph().events(ofPerson: person, kinds: [.track], in: $0) }
        #expect(before.contains { String(decoding: $0.payload, as: UTF8.self).contains("Campaign Assigned") })
        _ = try fixture.desk().erase(subject: Identifier(type: .userID, raw: "p7")!)
        #expect(try desk.assignments(of: "spring")[person] == nil && desk.assignments(of: "spring").count == 39)
        #expect(try fixture.owner.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM keyring WHERE subject_id = ?", arguments: [Data(person.bytes)]) } == 0,
                "the key that opened the assignment event is gone")
    }

    @Test("a birthday campaign reaches only members whose birthday month falls in its window")
    func birthdays() throws {
        let fixture = try ActivationFixture(people: 40)
        #expect(Campaign.months(from: Timestamp.parse("2026-03-01T00:00:00Z")!, to: Timestamp.parse("2026-05-01T00:00:00Z")!) == [3, 4])
        #expect(Campaign.months(from: Timestamp.parse("2026-12-20T00:00:00Z")!, to: Timestamp.parse("2027-01-10T00:00:00Z")!) == [12, 1])
        var campaign = Campaign(name: "birthdays", segment: "buyers", channel: .email, holdout: 0, variants: [.init(name: "A", content: "A treat")],
                                starts: Timestamp.parse("2026-03-01T00:00:00Z"), ends: Timestamp.parse("2026-05-01T00:00:00Z"))
        campaign.birthdaysInWindow = true
        let desk = CampaignDesk(vault: fixture.owner, policy: fixture.policy)
        let created = try desk.create(campaign, now: fixture.now)
        // Birthdays in March and April: people 2, 3, 11, 12, 20, 21, 29, 30, 38, 39.
        #expect(created.groups == ["A": 10])
        var people: Set<String> = []
        for (subject, _) in try desk.assignments(of: "birthdays") {
            for index in 0..<40 where try fixture.owner.subjectSummary(for: Identifier(type: .userID, raw: "p\(index)")!)?.subject == subject {
                people.insert("p\(index)")
            }
        }
        #expect(people == ["p2", "p3", "p11", "p12", "p20", "p21", "p29", "p30", "p38", "p39"])
        campaign.name = "no-window"
        campaign.ends = nil
        #expect(throws: ActivationError.self) { try desk.create(campaign, now: fixture.now) }
    }

    @Test("the report counts each group's reach and purchases in the window, and its uplift is the variants' against the holdout")
    func report() throws {
        let fixture = try ActivationFixture(people: 40)
        let desk = CampaignDesk(vault: fixture.owner, policy: fixture.policy)
        _ = try desk.create(Campaign(name: "spring", segment: "buyers", channel: .email, holdout: 0.4, variants: []), now: fixture.now)
        _ = try AudienceExporter(vault: try fixture.marketing(), policy: fixture.policy)
            .export(campaign: "spring", destination: nil, to: fixture.directory.appendingPathComponent("s.csv"), now: fixture.now)
        let assigned = try desk.assignments(of: "spring")
        var lines: [String] = [], expected: [String: (members: Int, conversions: Int, revenue: Double, opened: Int)] = [:]
        for index in 0..<40 {
            let person = try #require(try fixture.owner.subjectSummary(for: Identifier(type: .userID, raw: "p\(index)")!)).subject
            let group = try #require(assigned[person])
            var entry = expected[group] ?? (0, 0, 0, 0)
            entry.members += 1
            // Every third person buys 2 days after the start (in the window); every fifth also 20 days after (outside it).
            if index % 3 == 0 {
                lines.append(#"{"type":"track","event":"Order Completed","userId":"p\#(index)","timestamp":"2026-03-04T09:00:00Z","properties":{"revenue":\#(index)}}"#)
                entry.conversions += 1
                entry.revenue += Double(index)
            }
            if index % 5 == 0 {
                lines.append(#"{"type":"track","event":"Order Completed","userId":"p\#(index)","timestamp":"2026-03-22T09:00:00Z","properties":{"revenue":99}}"#)
            }
            if index % 2 == 0 {
                // Half name the campaign in properties, half in Segment's UTM context.
                lines.append(index % 4 == 0
                    ? #"{"type":"track","event":"Email Opened","userId":"p\#(index)","timestamp":"2026-03-03T09:00:00Z","properties":{"campaign":"spring"}}"#
                    : #"{"type":"track","event":"Email Opened","userId":"p\#(index)","timestamp":"2026-03-03T09:00:00Z","context":{"campaign":{"name":"spring","source":"newsletter"}}}"#)
                entry.opened += 1
            }
            expected[group] = entry
        }
        fixture.ingestNow = Timestamp.parse("2026-03-25T00:00:00Z")!
        try fixture.ingest(lines.joined(separator: "\n") + "\n")
        let report = try desk.report("spring", window: PolicyDuration("14d")!, now: Timestamp.parse("2026-03-25T00:00:00Z")!)
        #expect(report.rows.map(\.group) == ["A", "holdout"])
        for row in report.rows {
            let want = try #require(expected[row.group])
            #expect(row.members == want.members && row.conversions == want.conversions && abs(row.revenue - want.revenue) < 1e-9
                    && row.opened == want.opened, "\(row.group)")
            #expect(row.sent == (row.group == "holdout" ? 0 : row.members), "the holdout was never sent anything")
        }
        let treated = try #require(expected["A"]), held = try #require(expected["holdout"])
        let uplift = try #require(report.uplift.first?.uplift)
        #expect(abs(uplift.conversion.estimate - (Double(treated.conversions) / Double(treated.members) - Double(held.conversions) / Double(held.members))) < 1e-12)
        #expect(try fixture.owner.auditEntries(AuditFilter(action: .campaignReport)).count == 1)
    }
}
