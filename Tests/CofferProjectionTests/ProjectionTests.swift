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

struct ProjectionTests {
    @Test("a gender stored before ingest normalised it (\"F\") shows in the single view as ingest now stores it (\"female\")")
    func genderOfOlderEvents() throws {
        let fixture = try ProjectionFixture()
        // Appended as an older Coffer stored it: straight into the log, past today's ingest.
        let payload = Array(#"{"type":"identify","userId":"old-1","traits":{"email":"old@example.com","gender":"F"},"timestamp":"2026-02-01T09:00:00Z"}"#.utf8)
        _ = try fixture.owner.eventLog().append([NewEvent(subject: try SubjectID.random(), kind: .identify, payload: payload,
                                                          occurredAt: 1_769_936_400_000)])
        _ = try fixture.build(["support"])
        let row = try #require(try fixture.rows("support", as: fixture.owner).first { $0["customer_id"] == .text("old-1") })
        #expect(row["gender"] == .text("female"))
    }

    @Test("frequency counts purchases in the same 12 months for everyone: a regular above a one-time buyer, an old purchase not at all")
    func frequencyWindow() throws {
        let fixture = try ProjectionFixture()
        var lines = [#"{"type":"identify","userId":"reg","traits":{"email":"reg@example.com"},"timestamp":"2025-01-01T09:00:00Z"}"#,
                     #"{"type":"identify","userId":"one","traits":{"email":"one@example.com"},"timestamp":"2025-01-01T09:00:00Z"}"#]
        // The regular: a cart a month from April 2025 to February 2026, and one in December 2024, outside the window.
        for month in ["2024-12", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
                      "2026-01", "2026-02"] {
            lines.append(#"{"type":"track","event":"Order Completed","userId":"reg","timestamp":"\#(month)-10T09:00:00Z","properties":{"revenue":4}}"#)
        }
        lines.append(#"{"type":"track","event":"Order Completed","userId":"one","timestamp":"2026-02-27T09:00:00Z","properties":{"revenue":4}}"#)
        try fixture.ingest(lines.joined(separator: "\n"))
        _ = try fixture.build(["support"])
        let rows = try fixture.rows("support", as: fixture.owner)
        let regular = try #require(rows.first { $0["email"] == .text("reg@example.com") })
        let once = try #require(rows.first { $0["email"] == .text("one@example.com") })
        #expect(regular["shop_times"] == .integer(12))
        #expect(regular["frequency"] == .real(0.92), "11 of the 12 carts in the last 12 months: 11/12")
        #expect(once["frequency"] == .real(0.08))
        // The next build is incremental: the purchase days come back from the build state, and the figures stay.
        try fixture.ingest(#"{"type":"page","userId":"one","name":"Menu","timestamp":"2026-02-28T09:00:00Z"}"#)
        let incremental = try fixture.build(["support"])
        #expect(incremental.startSeq > 0, "the second build started from the saved state")
        let again = try fixture.rows("support", as: fixture.owner)
        #expect(again.first { $0["email"] == .text("reg@example.com") }?["frequency"] == .real(0.92))
    }

    @Test("purchase days survive the build state: encoded, decoded, equal; a damaged count is refused")
    func purchaseDaysRoundTrip() throws {
        var aggregate = CustomerAggregate()
        aggregate.purchases = 3
        // Out of order and twice on one day, as a log may bring them: kept in day order, one entry a day.
        aggregate.purchaseDays = PurchaseDays([PurchaseDay(day: 20_500, carts: 1, spend: 5), PurchaseDay(day: -3, carts: 1, spend: 0),
                                               PurchaseDay(day: 20_500, carts: 1, spend: 2.5)])
        #expect(aggregate.purchaseDays.days == [PurchaseDay(day: -3, carts: 1, spend: 0), PurchaseDay(day: 20_500, carts: 2, spend: 7.5)])
        #expect(aggregate.purchaseDays.carts(from: 0, through: 20_500) == 2 && aggregate.purchaseDays.carts(from: -10, through: 30_000) == 3)
        var writer = StateWriter()
        aggregate.encode(into: &writer)
        var reader = StateReader(bytes: writer.data)
        #expect(try CustomerAggregate(from: &reader).purchaseDays == aggregate.purchaseDays)
        aggregate.purchases = 1   // fewer carts than days with purchases: a damaged state
        var damaged = StateWriter()
        aggregate.encode(into: &damaged)
        var damagedReader = StateReader(bytes: damaged.data)
        #expect(throws: StateReader.Damaged.self) { try CustomerAggregate(from: &damagedReader) }
        #expect(PurchaseDay.day(of: -1) == -1 && PurchaseDay.day(of: 0) == 0 && PurchaseDay.day(of: 86_400_000) == 1)
    }

    @Test("event names are matched without case: \"order completed\" and \"ORDER REFUNDED\" count as the spec's names do")
    func eventNamesWithoutCase() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest("""
            {"type":"identify","userId":"case-1","traits":{"email":"case@example.com"},"timestamp":"2026-02-01T09:00:00Z"}
            {"type":"track","event":"order completed","userId":"case-1","timestamp":"2026-02-02T09:00:00Z","properties":{"revenue":12}}
            {"type":"track","event":"ORDER COMPLETED","userId":"case-1","timestamp":"2026-02-03T09:00:00Z","properties":{"revenue":8}}
            {"type":"track","event":"Order refunded","userId":"case-1","timestamp":"2026-02-04T09:00:00Z","properties":{"revenue":5}}
            {"type":"track","event":"email OPENED","userId":"case-1","timestamp":"2026-02-05T09:00:00Z"}
            """)
        _ = try fixture.build(["support"])
        let row = try #require(try fixture.rows("support", as: fixture.owner).first { $0["email"] == .text("case@example.com") })
        #expect(row["shop_times"] == .integer(2))
        #expect(row["total_spend"] == .real(15), "12 + 8 − 5")
    }

    @Test func testSingleViewNumbersMatchHandComputedValues() throws {
        let fixture = try ProjectionFixture()
        let report = try fixture.build(["analytics"])
        #expect(report.people == 3)
        // The owner's support projection allows identifiers, so rows can be told apart by email.
        _ = try fixture.build(["support"])
        let rows = try fixture.rows("support", as: fixture.owner)
        let byEmail = Dictionary(uniqueKeysWithValues: rows.map { ($0["email"]!.description, $0) })
        let ann = try #require(byEmail["ann@example.com"])
        #expect(ann["customer_id"] == .text("u1"))
        #expect(ann["shop_times"] == .integer(2), "the refund is not a cart")
        #expect(ann["total_spend"] == .real(25), "10 + 20 - 5")
        #expect(ann["first_time_shop"] == .text("2026-01-01T09:00:00.000Z"), "10:00 at +01:00 is 09:00 UTC")
        #expect(ann["last_time_shop"] == .text("2026-01-31T09:00:00.000Z"))
        #expect(ann["lifetime"] == .real(30))
        #expect(ann["frequency"] == .real(0.17), "two purchases in the last 12 months: 2/12 a month")
        #expect(ann["avg_spend"] == .real(12.5))
        #expect(ann["recency"] == .integer(30), "2026-01-31 to 2026-03-02")
        #expect(ann["online_share"] == .real(0.5))
        #expect(ann["instore_share"] == .real(0.5))
        #expect(ann["email_open_rate"] == .real(0.5))
        #expect(ann["email_click_rate"] == .real(0.5))
        #expect(ann["loyalty_points"] == .integer(25))
        #expect(ann["birthday_month"] == .integer(5))
        #expect(ann["age"] == .integer(37))
        #expect(ann["channels"] == .text("email,web"))
        #expect(ann["phone"] == .text("+447700900123"))
        #expect(ann["consent_marketing"] == .integer(1))
        #expect(ann["consent_personalisation"] == .integer(0))

        let bo = try #require(byEmail["bo@example.com"])
        #expect(bo["shop_times"] == .integer(1), "a zero-spend cart is a cart")
        #expect(bo["total_spend"] == .real(0))
        #expect(bo["avg_spend"] == .real(0))
        #expect(bo["lifetime"] == .real(0))
        #expect(bo["frequency"] == .real(0.08), "one purchase in 12 months scores below ann's two")
        #expect(bo["first_time_shop"] == .text("2026-02-20T23:30:00.000Z"), "18:30 at -05:00")
        #expect(bo["recency"] == .integer(9))

        let cy = try #require(byEmail["cy@example.com"])
        #expect(cy["shop_times"] == .integer(0))
        #expect(cy["total_spend"] == .real(-3))
        #expect(cy["avg_spend"] == .null)
        #expect(cy["first_time_shop"] == .null)
        #expect(cy["recency"] == .null)
    }

    @Test func testReadingTheLogInParallelRangesGivesTheSameViews() throws {
        let fixture = try ProjectionFixture()
        let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
        builder.scanParts = 1
        let whole = try builder.aggregates()
        for split in [ProjectionBuilder.ReadSplit.logRanges, .people] {
            builder.readSplit = split
            for parts in [2, 3, 7] {
                builder.scanParts = parts
                let read = try builder.aggregates()
                #expect(read.events == whole.events)
                #expect(Set(read.people.keys) == Set(whole.people.keys))
                for (subject, aggregate) in whole.people {
                    #expect(SingleView.row(read.people[subject]!, subject: subject, now: fixture.now, consents: []) == SingleView.row(aggregate, subject: subject, now: fixture.now, consents: []), "\(parts) parts, \(split)")
                }
            }
        }
    }

    @Test func testAnIncrementalBuildReadsOnlyNewEventsAndEqualsAFullOne() throws {
        let fixture = try ProjectionFixture()
        let first = try fixture.build()
        #expect(first.startSeq == 0, "no state yet: the whole log")
        #expect(FileManager.default.fileExists(atPath: fixture.layout.projections.appendingPathComponent("build-state.enc").path))
        try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-02-25T09:00:00Z","properties":{"revenue":7.5,"channel":"online"}}
            {"type":"identify","userId":"u2","timestamp":"2026-02-26T09:00:00Z","traits":{"age":25,"city":"Leeds"}}
            {"type":"identify","userId":"u4","timestamp":"2026-02-27T09:00:00Z","traits":{"email":"di@example.com","age":51}}
            {"type":"track","event":"Order Completed","userId":"u4","timestamp":"2026-02-27T10:00:00Z","properties":{"revenue":30}}
            """)
        let incremental = try fixture.build()
        #expect(incremental.startSeq == first.lastSeq)
        #expect(incremental.events == 4, "only the new events are read")
        #expect(incremental.people == 4)
        let support = try fixture.rows("support", as: fixture.owner)
        let analytics = try fixture.rows("analytics", as: fixture.owner)
        let byEmail = Dictionary(uniqueKeysWithValues: support.map { ($0["email"]!.description, $0) })
        #expect(byEmail["ann@example.com"]?["total_spend"] == .real(32.5), "25 + 7.5: the state and the new event fold together")
        #expect(byEmail["bo@example.com"]?["age"] == .integer(25))

        let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
        builder.incremental = false
        let full = try builder.build(now: fixture.now)
        #expect(full.startSeq == 0)
        #expect(full.events == first.events + 4)
        #expect(try fixture.rows("support", as: fixture.owner) == support, "incremental and full builds agree")
        #expect(try fixture.rows("analytics", as: fixture.owner) == analytics)

        // The saved state seeds the first of several log ranges: still the same as reading everything.
        try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-02-28T09:00:00Z","properties":{"revenue":2.5}}
            {"type":"identify","userId":"u4","timestamp":"2026-02-28T10:00:00Z","traits":{"city":"York","age":52}}
            {"type":"identify","userId":"u2","timestamp":"2026-02-28T11:00:00Z","traits":{"city":"Hull"}}
            """)
        let ranged = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
        ranged.scanParts = 3
        ranged.readSplit = .logRanges
        let again = try ranged.build(now: fixture.now)
        #expect(again.startSeq == full.lastSeq)
        #expect(again.events == 3)
        let rangedRows = try fixture.rows("support", as: fixture.owner)
        #expect(Dictionary(uniqueKeysWithValues: rangedRows.map { ($0["email"]!.description, $0) })["ann@example.com"]?["total_spend"] == .real(35))
        _ = try builder.build(now: fixture.now)
        #expect(try fixture.rows("support", as: fixture.owner) == rangedRows, "ranges after a state and one full read agree")
    }

    /// A build reports how far it has read the log (never going back, never past
    /// the whole) and each file as it is written, one report at a time.
    @Test func testABuildReportsItsProgress() throws {
        let fixture = try ProjectionFixture()
        final class Reports: @unchecked Sendable {
            let lock = NSLock()
            var all: [BuildProgress] = []
        }
        let reports = Reports()
        let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
        builder.progressEvery = 1
        builder.scanParts = 2
        let report = try builder.build(now: fixture.now) { progress in reports.lock.withLock { reports.all.append(progress) } }
        let shares = reports.all.compactMap { if case let .reading(share) = $0 { return share } else { return nil } }
        #expect(shares.count == report.events, "one report per event read, at this setting")
        #expect(shares == shares.sorted(), "progress never goes back")
        #expect(shares.allSatisfy { $0 > 0 && $0 <= 1 }, "\(shares)")
        let files = reports.all.compactMap { if case let .wrote(purpose, role, done, total) = $0 { return (purpose + "." + role.rawValue, done, total) } else { return nil } }
        #expect(files.map(\.1) == Array(1...report.projections.count))
        #expect(files.allSatisfy { $0.2 == report.projections.count })
        #expect(Set(files.map(\.0)) == Set(report.projections.map { $0.purpose + "." + $0.role.rawValue }))
        #expect(!(reports.all.prefix(shares.count).contains { if case .wrote = $0 { return true } else { return false } }), "the log is read before any file is written")
    }

    /// Files are written side by side (largest first) with the build state: one
    /// that cannot be written fails the build, yet every file that was written
    /// is audited, in policy order, and the state is saved.
    @Test func testAFileThatCannotBeWrittenFailsTheBuildButTheOthersAreAudited() throws {
        let fixture = try ProjectionFixture()
        let blocked = ProjectionFile.url(fixture.layout, purpose: "marketing", role: .analyst)
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("in-the-way"), withIntermediateDirectories: true)
        let before = try fixture.owner.auditEntries(AuditFilter(action: .projectBuild)).count
        do { _ = try fixture.build(); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("marketing.analyst.enc"), "\(error)")
        }
        let audited = try fixture.owner.auditEntries(AuditFilter(action: .projectBuild)).dropFirst(before).map(\.details.target)
        let expected = fixture.policy.purposes.flatMap { purpose in
            // Compliance reads the owner's file of a purpose both may read: no file of its own.
            Role.allCases.filter { fixture.policy.access[$0]?.purposes[purpose.name] != nil && $0.permissions.contains(.readProjections)
                && !($0 == .compliance && fixture.policy.access[.owner]?.purposes[purpose.name] != nil) }
                .map { "projection:\(purpose.name).\($0.rawValue)" }
        }.filter { $0 != "projection:marketing.analyst" }
        #expect(audited == expected)
        #expect(audited.count > 2)
        #expect(FileManager.default.fileExists(atPath: fixture.layout.projections.appendingPathComponent("build-state.enc").path))
    }

    @Test func testAMergeSinceTheLastBuildOrADamagedStateMeansAFullRead() throws {
        let fixture = try ProjectionFixture()
        let first = try fixture.build()
        let unchanged = try fixture.build()
        #expect(unchanged.startSeq == first.lastSeq)
        #expect(unchanged.events == 0, "nothing new, nothing read")
        #expect(unchanged.people == first.people)

        try fixture.ingest("""
            {"type":"page","anonymousId":"visitor-9","name":"Menu","timestamp":"2026-02-01T09:00:00Z"}
            {"type":"alias","previousId":"visitor-9","userId":"u2","timestamp":"2026-02-02T09:00:00Z"}
            """)
        let merged = try fixture.build()
        #expect(merged.startSeq == 0, "a merge since the last build: the whole log again")
        #expect(merged.people == 3)

        let state = fixture.layout.projections.appendingPathComponent("build-state.enc")
        var bytes = try Data(contentsOf: state)
        bytes[bytes.count - 5] ^= 0x01
        try bytes.write(to: state)
        let afterDamage = try fixture.build()
        #expect(afterDamage.startSeq == 0, "a damaged state is ignored, not fatal")
        #expect(afterDamage.people == 3)
    }

    @Test func testAnalystsSeeOnlyPolicyTransformedFields() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build()
        let rows = try fixture.rows("analytics", as: fixture.analyst())
        #expect(rows.count == 3)
        let ann = try #require(rows.first { $0["age"] == .text("30-39") })
        #expect(ann["age"] == .text("30-39"), "generalised to a 10-year band")
        // Spend and purchase times are coarsened (round 10, week) and, with three people (under the
        // minimum group size of 5), every combination is rare: suppressed in the analyst's file.
        #expect(ann["total_spend"] == .null)
        #expect(ann["first_time_shop"] == .null)
        #expect(try fixture.rows("analytics", as: fixture.analyst()).filter { $0["shop_times"] == .integer(2) }.count == 1, "behavioural fields stay")
        #expect(ann["birthday"] == .text("05"), "generalised to the month")
        #expect(ann["email"]?.description.count == 32, "tokenised")
        #expect(ann["email"] != .text("ann@example.com"))
        #expect(ann["customer_id"]?.description.count == 32)
        #expect(ann["address"] == nil, "deny_fields")
        // Tokens differ between purposes: two projections cannot be joined.
        let marketing = try fixture.rows("marketing", as: fixture.analyst())
        #expect(marketing.first?["email"] != ann["email"])
    }

    @Test func testOnlyConsentingPeopleAppearAndAWithdrawalRemovesThemOnTheNextBuild() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["marketing"])
        #expect(try fixture.rows("marketing", as: fixture.analyst()).count == 1, "only u1 consented to marketing")
        #expect(throws: (any Error).self, "not built yet") { try fixture.rows("personalisation", as: fixture.analyst()) }

        let desk = try ConsentDesk(vault: fixture.owner, policy: fixture.policy)
        try desk.record(desk.makeRecord(purpose: "marketing", status: .withdrawn, effectiveAt: fixture.now - 1000, source: "test"),
                        for: Identifier(argument: "user:u1")!)
        _ = try fixture.build(["marketing"])
        #expect(try fixture.rows("marketing", as: fixture.analyst()).count == 0)
    }

    @Test func testSegmentMembership() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["support"])
        let reader = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .segment)
        #expect(try reader.segmentMembers("spenders") == ["u1"])
        #expect(try reader.segmentMembers("emailers") == ["u1"])
        #expect(try reader.segmentMembers("birthday_now") == [], "born in May, built in March")
        #expect(try reader.segmentMembers("one_timers") == ["u2", "u3"])
        do { _ = try reader.segmentMembers("nope"); Issue.record("expected an error") } catch {
            #expect(error as? ProjectionError == .unknownSegment("nope", known: ["birthday_now", "emailers", "one_timers", "spenders"]))
        }
        // Sizes under the minimum group size (5) are withheld.
        #expect(try reader.segmentStats().allSatisfy { $0.size == nil })
    }

    @Test func testAnalystSQLCannotEscape() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["analytics"])
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "analytics", action: .query)
        let attempts = [
            "ATTACH DATABASE '\(fixture.layout.database.path)' AS vault",
            "DELETE FROM single_view",
            "UPDATE single_view SET total_spend = 0",
            "INSERT INTO segments VALUES ('x', 'y', 'z')",
            "CREATE TABLE stolen (x)",
            "DROP TABLE single_view",
            "PRAGMA table_info(single_view)",
            "SELECT * FROM pragma_database_list",
            "SELECT load_extension('/tmp/evil')",
            "SELECT * FROM events",
            "SELECT * FROM keyring",
            "SELECT * FROM sqlite_master",
            "SELECT count(*) FROM single_view; DELETE FROM single_view",
            "WITH x AS (SELECT 1) SELECT readfile('/etc/passwd') FROM x",
        ]
        for sql in attempts {
            do { _ = try reader.query(sql); Issue.record("\(sql)") } catch {
                #expect(error is QueryError, "\(sql): \(error)")
            }
        }
        #expect(try reader.query("SELECT count(*) FROM single_view").rows == [[.integer(3)]], "and nothing was changed")
        // Every attempt is in the audit trail, as a denial.
        let denied = try fixture.owner.auditEntries(AuditFilter(action: .query, decision: .denied))
        #expect(denied.count == attempts.count)
        #expect(denied.allSatisfy { $0.details.target?.hasPrefix("query:") == true && $0.details.actor == "alice" })
    }

    @Test func testAnAnalystCannotOpenAnotherRolesProjection() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["marketing"])
        let analyst = try fixture.analyst()
        let url = ProjectionFile.url(fixture.layout, purpose: "marketing", role: .marketing)
        #expect(FileManager.default.fileExists(atPath: url.path))
        let analystKey = try ProjectionFile.fileKey(analyst.projectionKey(), purpose: "marketing")
        #expect(throws: (any Error).self) { try ProjectionFile.open(url, key: analystKey, vaultID: analyst.vaultID, purpose: "marketing", role: .marketing) }
        #expect(throws: (any Error).self) { try analyst.projectionKey(for: .marketing) }
        #expect(throws: (any Error).self, "only the owner builds") { try ProjectionBuilder(vault: analyst, policy: fixture.policy, segments: []) }
    }

    @Test func testNoPlaintextInTheProjectionFiles() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build()
        let files = try FileManager.default.contentsOfDirectory(at: fixture.layout.projections, includingPropertiesForKeys: nil)
        #expect(files.count == 13, "six projections (compliance reads the owner's support file), their six subject maps and the sealed build state")
        #expect(files.filter { $0.lastPathComponent.hasSuffix(".subjects.enc") }.count == 6)
        for file in files {
            let bytes = try Data(contentsOf: file)
            for secret in ["ann@example.com", "+447700900123", "\"Ann\"", "SQLite format", "single_view", "1989-05-17"] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) in \(file.lastPathComponent)")
            }
        }
    }

    @Test func testEveryReadIsAudited() throws {
        let fixture = try ProjectionFixture()
        _ = try fixture.build(["analytics"])
        let before = try fixture.owner.auditEntries().count
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "analytics", action: .view)
        _ = try reader.top(2, by: "total_spend")
        _ = try reader.query("SELECT avg(total_spend) FROM single_view")
        _ = try reader.segmentStats()
        let added = try fixture.owner.auditEntries().dropFirst(before).map(\.action)
        #expect(added == [.view, .query, .segment])
    }
}
