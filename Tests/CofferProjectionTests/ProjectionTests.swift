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

/// A vault with three hand-made customers, the shipped policy, and an analyst.
final class ProjectionFixture {
    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    var layout: VaultLayout { scratch.layout }
    let owner: Vault
    let policy: Policy
    /// 2026-03-02T09:00:00Z: "now" for every build, so recency is fixed.
    let now: Int64 = Timestamp.parse("2026-03-02T09:00:00Z")!
    static let kdf = ScratchVault.kdf

    init() throws {
        scratch = try ScratchVault("projection", passphrase: "projection test passphrase")
        owner = try scratch.create()
        policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let input = directory.appendingPathComponent("events.jsonl")
        try Self.events.write(to: input, atomically: true, encoding: .utf8)
        _ = try Ingestor(vault: owner, policy: policy).ingest(path: input.path)
        try owner.addActor("alice", role: .analyst, passphrase: SecureBytes(Array("analyst passphrase".utf8)), kdf: Self.kdf)
    }


    static let events = """
        {"type":"identify","userId":"u1","timestamp":"2025-12-01T12:00:00Z","traits":{"email":"Ann@Example.com","phone":"+44 7700 900123","firstName":"Ann","age":37,"gender":"female","birthday":"1989-05-17","loyaltyId":"L1"}}
        {"type":"track","event":"Consent Updated","userId":"u1","timestamp":"2025-12-01T12:01:00Z","context":{"consent":{"categoryPreferences":{"marketing":true,"personalisation":false}}}}
        {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-01-01T10:00:00+01:00","properties":{"revenue":10.0,"channel":"online"},"context":{"channel":"web"}}
        {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-01-31T09:00:00Z","properties":{"spending":20,"channel":"in-store"}}
        {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-02-10T09:00:00Z","properties":{"revenue":-5,"channel":"online"}}
        {"type":"track","event":"Email Delivered","userId":"u1","timestamp":"2026-02-01T09:00:00Z","context":{"channel":"email"}}
        {"type":"track","event":"Email Delivered","userId":"u1","timestamp":"2026-02-08T09:00:00Z","context":{"channel":"email"}}
        {"type":"track","event":"Email Opened","userId":"u1","timestamp":"2026-02-08T10:00:00Z","context":{"channel":"email"}}
        {"type":"track","event":"Email Link Clicked","userId":"u1","timestamp":"2026-02-08T10:01:00Z","context":{"channel":"email"}}
        {"type":"page","userId":"u1","name":"Menu","timestamp":"2026-02-09T09:00:00Z"}
        {"type":"identify","userId":"u2","timestamp":"2025-12-05T12:00:00Z","traits":{"email":"bo@example.com","age":24}}
        {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-02-20T18:30:00-05:00","properties":{"revenue":0,"channel":"online"}}
        {"type":"identify","userId":"u3","timestamp":"2025-12-06T12:00:00Z","traits":{"email":"cy@example.com"}}
        {"type":"track","event":"Order Completed","userId":"u3","timestamp":"2026-02-21T09:00:00Z","properties":{"revenue":-3}}
        """

    static let segments = """
        segments:
          spenders:
            description: Spent 20 or more.
            rule: total_spend >= 20
          emailers:
            rule: email_open_rate >= 0.5 and channels contains 'email'
          birthday_now:
            rule: birthday_month == current_month
          one_timers:
            rule: shop_times == 1 or (shop_times < 1 and not (total_spend >= 0))
        """

    func build(_ purposes: [String]? = nil) throws -> BuildReport {
        let segments = try SegmentCatalog.parse(Self.segments, file: "segments.yaml", fields: SegmentCatalog.fields(for: policy))
        return try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(purposes: purposes, now: now)
    }

    /// Imports JSONL lines.
    func ingest(_ lines: String) throws {
        let input = directory.appendingPathComponent("more-\(UUID().uuidString).jsonl")
        try lines.write(to: input, atomically: true, encoding: .utf8)
        _ = try Ingestor(vault: owner, policy: policy).ingest(path: input.path)
    }

    func analyst() throws -> Vault {
        try Vault.unlock(layout: layout, actor: "alice", passphrase: SecureBytes(Array("analyst passphrase".utf8)))
    }

    /// Rows of `purpose` as the owner's (analytics) or an analyst's projection holds them, by column.
    func rows(_ purpose: String, as vault: Vault) throws -> [[String: Cell]] {
        let result = try ProjectionReader(vault: vault, policy: policy, purpose: purpose, action: .query)
            .query("SELECT * FROM single_view ORDER BY customer_id")
        return result.rows.map { Dictionary(uniqueKeysWithValues: zip(result.columns, $0)) }
    }
}

struct ProjectionTests {
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
        #expect(ann["frequency"] == .real(2), "two purchases over under a month count as 2 per month")
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
        #expect(bo["frequency"] == .real(1))
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
        #expect(files.count == 7, "six projections (compliance reads the owner's support file) and the sealed build state")
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

struct SegmentRuleTests {
    let fields: Set<String> = ["shop_times", "avg_spend", "channels", "birthday_month"]

    @Test func testParsesAndEvaluates() throws {
        let rule = try SegmentRule.parse("shop_times >= 10 and (avg_spend > 15 or channels contains 'app') and not birthday_month == current_month",
                                         knownFields: fields)
        #expect(rule.fields == fields)
        let row: [String: Cell] = ["shop_times": .integer(12), "avg_spend": .real(9), "channels": .text("app,web"), "birthday_month": .integer(4)]
        #expect(rule.matches(row, currentMonth: 5))
        #expect(!(rule.matches(row, currentMonth: 4)))
        #expect(!(rule.matches(row.merging(["channels": .text("web")]) { $1 }, currentMonth: 5)))
        #expect(!(try SegmentRule.parse("avg_spend > 1", knownFields: fields).matches(["avg_spend": .null], currentMonth: 1)), "a missing value never matches")
    }

    /// The rule bound to a row layout, as builds evaluate it for every person of every file.
    @Test func testBoundRulesCompareNumbersNumericallyTextByCodePointsAndListsByItem() throws {
        let fields: Set<String> = ["shop_times", "gender", "channels", "postcode", "city"]
        let columns = ["shop_times": 0, "gender": 1, "channels": 2, "postcode": 3]
        let row: [Cell] = [.integer(9), .text("female"), .text("app,,web"), .text("10")]
        func matches(_ text: String, month: Int = 1) throws -> Bool {
            try SegmentRule.parse(text, knownFields: fields).bound(to: columns, currentMonth: month).matches(row)
        }
        #expect(try matches("shop_times < 10"), "9 < 10 as numbers")
        #expect(try matches("postcode > 9"), "text that reads as a number compares as one: \"10\" > 9")
        #expect(!(try matches("postcode < '9'")), "two texts that read as numbers compare numerically (as text \"10\" < \"9\")")
        #expect(try matches("gender == 'female' and gender > 'f'"), "text by code points")
        #expect(try matches("channels contains 'web'"))
        #expect(!(try matches("channels contains 'we'")), "whole items only")
        #expect(!(try matches("channels contains ''")), "empty items never match")
        #expect(!(try matches("city == 'Leeds'")), "a field not in the layout is missing")
        #expect(try matches("not city == 'Leeds'"), "and `not` of a missing comparison holds")
        #expect(try matches("shop_times == current_month", month: 9))
    }

    @Test func testErrorsSayWhereAndWhat() {
        let cases: [(String, Int, String)] = [
            ("shop_tims >= 10", 1, "unknown field 'shop_tims'"),
            ("shop_times 10", 12, "expected a comparison"),
            ("shop_times >= ", 15, "the rule ends where a field or value was expected"),
            ("channels == 'app", 13, "unterminated string"),
            ("(shop_times > 1", 16, "expected ')'"),
            ("shop_times => 1", 12, "unknown operator '=>'"),
            ("shop_times > 1 avg_spend", 16, "unexpected 'avg_spend'"),
        ]
        for (text, column, message) in cases {
            do { _ = try SegmentRule.parse(text, knownFields: fields); Issue.record("\(text)") } catch {
                let error = error as? SegmentRuleError
                #expect(error?.column == column, "\(text): \(String(describing: error))")
                #expect(error?.message.contains(message) == true, "\(text): \(String(describing: error))")
            }
        }
    }

    @Test func testTheShippedSegmentsLoad() throws {
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path, policy: policy, required: true)
        #expect(segments.map(\.name) == ["loyal_regulars", "birthday_this_month", "lapsing_customers", "online_orderers",
                                              "app_adopters", "social_advocates", "promo_email_responders"])
        do { _ = try SegmentCatalog.parse("segments:\n  x:\n    rule: avg_spend >> 3\n", file: "s.yaml",
                                                      fields: SegmentCatalog.fields(for: policy)); Issue.record("expected an error") } catch {
            #expect((error as? PolicyError)?.line == 3)
            #expect("\(error)".contains("unknown operator '>>'"), "\(error)")
        }
    }
}

struct PayloadFieldsTests {
    @Test func testTheFieldScannerReadsOnlyWhatTheSingleViewNeeds() throws {
        let text = #"{"context":{"channel":"web","page":{"path":"/x","tags":["a",{"b":"}"}]},"traits":{"email":"a@b.c"}},"# +
            #""event":"Order Completed","properties":{"channel":"in-store","items":[{"sku":"x\"y"}],"revenue":12.5},"# +
            #""timestamp":"2026-01-01T00:00:00.000Z","traits":{"age":41,"nested":{"email":"wrong"},"firstName":"A\u00e9"},"userId":"u1"}"#
        let fields = try #require(PayloadFields.scan(Array(text.utf8)))
        #expect(fields.event == "Order Completed")
        #expect(fields.time == Timestamp.parse("2026-01-01T00:00:00.000Z"))
        #expect(fields.userID == "u1")
        #expect(fields.contextChannel == "web")
        #expect(fields.traits.named == ["email": .text("a@b.c"), "age": .number(41), "firstName": .text("Aé")])
        #expect(fields.properties.named == ["channel": .text("in-store"), "revenue": .number(12.5)])
        #expect(PayloadFields.scan(Array("[1,2]".utf8)) == nil)
        #expect(PayloadFields.scan(Array(#"{"event":"x""#.utf8)) == nil)
    }

    @Test func testStringsAndNumbersDecodeAsJSONSaysAndMalformedPayloadsAreRefused() throws {
        let text = #"{"traits":{"age":3e2,"loyaltyPoints":-2.5,"city":"x\"y\\z\u00e9\ud83d\ude00","postcode":"","#
            + #""email":true,"gender":null,"zip":0.1}}"#
        let fields = try #require(PayloadFields.scan(Array(text.utf8)))
        #expect(fields.traits[.age] == .number(300))
        #expect(fields.traits[.loyaltyPoints] == .number(-2.5))
        #expect(fields.traits[.city] == .text("x\"y\\zé😀"))
        #expect(fields.traits[.postcode] == .text(""))
        #expect(fields.traits[.zip]?.double == 0.1)
        #expect(fields.traits[.email] == nil, "booleans are not kept")
        #expect(fields.traits[.gender] == nil, "null is not kept")
        // Keys are matched as bytes; one with escapes is decoded first.
        let escaped = try #require(PayloadFields.scan(Array(#"{"traits":{"first\u005fname":"Bo","emai":"x","emails":"y"},"\u0065vent":"E","timestamp":"2026-01-01T00:00:00\u002e250Z"}"#.utf8)))
        #expect(escaped.traits.named == ["first_name": .text("Bo")])
        #expect(escaped.event == "E")
        #expect(escaped.time == Timestamp.parse("2026-01-01T00:00:00.250Z"))
        for bad in ["{", #"{"event":"x""#, "[1]", #"{"traits":{"age":1}"#, #"{"event":"unterminated}"#] {
            #expect(PayloadFields.scan(Array(bad.utf8)) == nil, "\(bad)")
        }
    }
}

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

struct DemoProjectionTests {
    /// After the demo is ingested and every projection built, no email, phone or
    /// name of it is in any file of the vault directory (projections included).
    @Test func testNoPersonalDataInTheVaultAfterProjectBuild() throws {
        let fixture = try ProjectionFixture()
        var configuration = DemoConfiguration()
        configuration.customers = 40
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: fixture.owner, policy: fixture.policy)
        ingestor.clock = { configuration.start + 380 * 86_400_000 }   // the demo year just ended, on any day
        _ = try ingestor.ingest(records: data.segmentLines, file: "demo:segment.jsonl", format: .jsonl)
        _ = try ingestor.ingest(records: data.retailRows, file: "demo:retail.csv", format: .csv, mapping: data.retailMapping,
                                header: data.retailHeader)
        let report = try fixture.build()
        #expect(report.people > 40)
        var secrets = Set<String>()
        for line in data.segmentLines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any],
                  let traits = object["traits"] as? [String: Any] else { continue }
            for key in ["email", "phone", "firstName", "lastName"] {
                if let value = traits[key] as? String {
                    secrets.insert(value.trimmingCharacters(in: .whitespaces))
                    if key == "email", let email = Identifier(type: .email, raw: value) { secrets.insert(email.value) }
                    if key == "phone", let phone = Identifier(type: .phone, raw: value) { secrets.insert(phone.value) }
                }
            }
        }
        #expect(secrets.count > 100)
        var files = 0
        let enumerator = FileManager.default.enumerator(at: fixture.layout.directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            guard let bytes = try? Data(contentsOf: url) else { continue }
            files += 1
            for secret in secrets {
                // Short names are searched in quoted form (4 random bytes match by chance).
                let needle = secret.utf8.count >= 8 ? Data(secret.utf8) : Data("\"\(secret)\"".utf8)
                #expect(bytes.range(of: needle) == nil, "'\(secret)' in \(url.lastPathComponent)")
            }
        }
        #expect(files >= 8, "database, audit ledger, keyslots and six projections")
    }
}
