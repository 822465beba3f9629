@testable import CofferActivation
import CofferCrypto
import CofferFormats
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import GRDB
import Foundation
import Testing
import CofferTestSupport

/// Issue 20: audiences leave the vault checked against its state at that moment.
struct AudienceExportTests {
    @Test("withdrawn, unsubscribed, restricted and erased after the build: absent from the export, counted as left out")
    func liveChecks() throws {
        let fixture = try ActivationFixture()
        // After the build, and without the projections being purged: only the live check can catch these.
        try fixture.ingest("""
            {"type":"track","event":"Consent Updated","userId":"p1","timestamp":"2026-03-01T10:00:00Z","context":{"consent":{"categoryPreferences":{"marketing":false}}}}
            {"type":"track","event":"Email Unsubscribed","userId":"p2","timestamp":"2026-03-01T10:00:00Z","properties":{"list":"news"}}
            {"type":"track","event":"Consent Updated","userId":"p4","timestamp":"2026-03-01T10:00:00Z","context":{"consent":{"categoryPreferences":{"email":false}}}}
            """)
        let desk = try fixture.desk()
        _ = try desk.restrict(subject: Identifier(type: .email, raw: "person3@example.com")!)
        _ = try desk.erase(subject: Identifier(type: .email, raw: "person5@example.com")!)
        // The restriction and the erasure purged p3 and p5 from the files at once; the other three are still in
        // them (a Segment withdrawal purges only where `ConsentEffects` runs; an unsubscribe never does).
        let (report, text) = try fixture.export("buyers", channel: .email, name: "email.csv")
        #expect(report.leftOut == [.noConsent: 1, .optedOut: 1, .noChannelConsent: 1], "\(report.leftOut)")
        #expect(report.members == 7)
        for gone in ["person1@", "person2@", "person3@", "person4@", "person5@"] { #expect(!text.contains(gone), "\(gone)") }
        #expect(text.contains("person0@example.com"), "emails trimmed and lower-cased")
        let header = text.split(separator: "\n").first.map(String.init)
        #expect(header == "Email Address,First Name,Last Name,BIRTHDAY_MONTH,RFM_SEGMENT,RECOMMENDED_ITEMS,Tags")
        #expect(!text.contains("+44"), "no field the destination does not take")
    }

    @Test("a person past restriction or erasure is absent even from a projection file that still lists them")
    func staleFile() throws {
        let fixture = try ActivationFixture()
        let file = fixture.scratch.layout.projections.appendingPathComponent("marketing.marketing.enc")
        let before = try Data(contentsOf: file)
        let desk = try fixture.desk()
        _ = try desk.restrict(subject: Identifier(type: .email, raw: "person3@example.com")!)
        _ = try desk.erase(subject: Identifier(type: .email, raw: "person5@example.com")!)
        try before.write(to: file)   // the file from before both, put back
        let (report, text) = try fixture.export("buyers", channel: .email, name: "stale.csv")
        #expect(report.leftOut[.restricted] == 1 && report.leftOut[.erased] == 1, "\(report.leftOut)")
        #expect(!text.contains("person3@") && !text.contains("person5@"))
    }

    @Test("the frequency cap (2 per 7 days) holds across exports of two segments; below the minimum group size nothing leaves")
    func frequencyCap() throws {
        let fixture = try ActivationFixture()
        let first = try fixture.export("buyers", channel: .email, name: "1.csv").0
        let second = try fixture.export("big_spenders", channel: .email, name: "2.csv").0
        #expect(first.members == 12 && second.members == 7, "big spenders: p5 … p11")
        // Everyone in big_spenders has had two messages now: a third export of buyers leaves only p0 … p4.
        let third = try fixture.export("buyers", channel: .email, name: "3.csv").0
        #expect(third.members == 5 && third.leftOut[.frequencyCap] == 7)
        #expect(throws: ActivationError.belowMinimum(segment: "big_spenders", members: 0, minimum: 5)) {
            try fixture.export("big_spenders", channel: .email, name: "4.csv")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("4.csv").path))
        let denied = try fixture.owner.auditEntries(AuditFilter(action: .audienceExport, decision: .denied))
        #expect(denied.count == 1)
    }

    @Test("ads files hold SHA-256 of normalised identifiers only, as computed by hand; SMS files E.164 numbers of SMS opt-ins")
    func hashedAndSMS() throws {
        let fixture = try ActivationFixture()
        let (report, text) = try fixture.export("buyers", channel: .ads, destination: "google_ads", name: "ads.csv")
        #expect(report.members == 12)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "email,phone")
        // Person 7: " Person7@Example.com " → "person7@example.com"; "+44 7700 900107" → "447700900107".
        let email = try SHA256.hash(Array("person7@example.com".utf8)).hexString
        let phone = try SHA256.hash(Array("447700900107".utf8)).hexString
        #expect(lines.contains("\(email),\(phone)"))
        #expect(!text.contains("@") && !text.contains("7700") && !text.lowercased().contains("person"))
        let sms = try fixture.export("buyers", channel: .sms, name: "sms.txt")
        #expect(sms.0.members == 6 && sms.0.leftOut[.noChannelConsent] == 6, "only even-numbered people opted in to SMS")
        #expect(sms.1.split(separator: "\n").allSatisfy { $0.hasPrefix("+447700900") && $0.count == 13 })
    }

    @Test("every export is audited with its manifest, and the file's SHA-256 matches it")
    func manifest() throws {
        let fixture = try ActivationFixture()
        let (report, text) = try fixture.export("buyers", channel: .push, name: "push.txt")
        #expect(text.split(separator: "\n").count == 12 && text.contains("tok-3"))
        let entries = try fixture.owner.auditEntries(AuditFilter(action: .audienceExport))
        #expect(entries.count == 1 && entries[0].details.rows == 12)
        let manifest = try #require(entries[0].details.reason)
        #expect(manifest == report.manifest)
        #expect(manifest.contains(try SHA256.hash(Array(text.utf8)).hexString))
        #expect(manifest.contains(fixture.policy.sha256))
        let beside = try String(contentsOf: report.file.appendingPathExtension("manifest.json"), encoding: .utf8)
        #expect(beside.trimmingCharacters(in: .newlines) == manifest)
        #expect(try AuditVerifier.verify(layout: fixture.scratch.layout).failure == nil)
    }

    @Test("only the marketing role may export; an analyst is refused and the refusal audited")
    func permission() throws {
        let fixture = try ActivationFixture()
        #expect(throws: VaultError.self) { try AudienceExporter(vault: fixture.owner, policy: fixture.policy) }
        #expect(try fixture.owner.auditEntries(AuditFilter(decision: .denied)).contains { $0.action == .audienceExport })
    }
}

/// Opt-out events, and what erasure leaves of a person's sends.
struct ChannelOptOutTests {
    @Test("Segment's opt-out events name their channel; other events are none")
    func parsing() {
        #expect(ChannelOptOut(event: "Email Unsubscribed", channel: nil) == ChannelOptOut(channel: "email", reason: "unsubscribed"))
        #expect(ChannelOptOut(event: "Unsubscribed", channel: "sms") == ChannelOptOut(channel: "sms", reason: "unsubscribed"))
        #expect(ChannelOptOut(event: "Unsubscribed", channel: nil) == ChannelOptOut(channel: "email", reason: "unsubscribed"))
        #expect(ChannelOptOut(event: "email bounced", channel: nil) == ChannelOptOut(channel: "email", reason: "bounced"))
        #expect(ChannelOptOut(event: "Email Marked as Spam", channel: nil) == ChannelOptOut(channel: "email", reason: "complained"))
        #expect(ChannelOptOut(event: "SMS Opted Out", channel: nil) == ChannelOptOut(channel: "sms", reason: "unsubscribed"))
        #expect(ChannelOptOut(event: "Push Unsubscribed", channel: nil) == ChannelOptOut(channel: "push", reason: "unsubscribed"))
        #expect(ChannelOptOut(event: "Order Completed", channel: nil) == nil)
        #expect(ChannelOptOut(event: "Unsubscribed", channel: "fax") == nil)
    }

    @Test("an erased person's sends and opt-outs leave the vault with them")
    func erasure() throws {
        let fixture = try ActivationFixture()
        try fixture.ingest(#"{"type":"track","event":"Email Bounced","userId":"p0","timestamp":"2026-03-01T10:00:00Z"}"# + "\n")
        _ = try fixture.export("buyers", channel: .email, name: "1.csv")
        func count(_ table: String) throws -> Int { try fixture.owner.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") ?? -1 } }
        #expect(try count("activation_sends") == 11 && count("channel_opt_outs") == 1)
        _ = try fixture.desk().erase(subject: Identifier(type: .email, raw: "person0@example.com")!)
        _ = try fixture.desk().erase(subject: Identifier(type: .email, raw: "person1@example.com")!)
        #expect(try count("activation_sends") == 10 && count("channel_opt_outs") == 0)
    }
}

extension AudienceExportTests {
    @Test("an ads audience messages nobody: it neither counts against the cap nor is stopped by it")
    func adsAndTheCap() throws {
        let fixture = try ActivationFixture()
        for name in ["1.csv", "2.csv"] { _ = try fixture.export("buyers", channel: .email, name: name) }
        let ads = try fixture.export("buyers", channel: .ads, destination: "meta_ads", name: "ads.csv").0
        #expect(ads.members == 12 && ads.leftOut.isEmpty)
        #expect(throws: ActivationError.self) { try fixture.export("buyers", channel: .email, name: "3.csv") }
    }
}

extension ChannelOptOutTests {
    @Test("an email tool's unsubscribes and bounces, imported with the shipped mapping, keep those people out of email audiences")
    func espExport() throws {
        let fixture = try ActivationFixture()
        let csv = fixture.directory.appendingPathComponent("esp.csv")
        try """
            email,event,timestamp,campaign
            PERSON3@example.com,Email Unsubscribed,2026-03-01T10:02:11Z,autumn-menu
            person4@example.com,Email Bounced,2026-03-01T08:15:00Z,we-miss-you
            """.write(to: csv, atomically: true, encoding: .utf8)
        let mappingPath = ScratchVault.repository.appendingPathComponent("examples/esp-events-mapping.yaml").path
        let ingestor = try Ingestor(vault: fixture.owner, policy: fixture.policy)
        ingestor.clock = { [now = fixture.now] in now }
        let report = try ingestor.ingest(path: csv.path, mapping: try CSVMapping.load(path: mappingPath), mappingPath: mappingPath)
        #expect(report.accepted == 2 && report.optOuts == 2 && report.subjectsCreated == 0, "linked to the known people by email")
        let (export, text) = try fixture.export("buyers", channel: .email, name: "after.csv")
        #expect(export.leftOut[.optedOut] == 2 && !text.contains("person3@") && !text.contains("person4@"))
        #expect(try fixture.export("buyers", channel: .sms, name: "sms.txt").0.leftOut[.optedOut] == nil, "an email opt-out leaves SMS alone")
    }
}

extension AudienceExportTests {
    @Test("recommended items go out only for people who consent to personalisation now; a withdrawal clears them from the marketing file at once")
    func recommendedItems() throws {
        let fixture = try ActivationFixture()
        // Everyone buys a latte; p0 … p5 take beans home with it, p6 … p11 have tea and a scone another day.
        // All but p7 consent to personalisation.
        var lines: [String] = []
        for index in 0..<12 {
            if index != 7 {
                lines.append(#"{"type":"track","event":"Consent Updated","userId":"p\#(index)","timestamp":"2026-01-10T11:00:00Z","context":{"consent":{"categoryPreferences":{"personalisation":true}}}}"#)
            }
            let items = index < 6 ? ["Latte", "Beans 250g"] : ["Latte"]
            let products = items.map { #"{"name":"\#($0)","price":4,"quantity":1}"# }.joined(separator: ",")
            lines.append(#"{"type":"track","event":"Order Completed","userId":"p\#(index)","timestamp":"2026-02-20T10:00:00Z","properties":{"order_id":"o\#(index)","revenue":\#(4 * items.count),"products":[\#(products)]}}"#)
            if index >= 6 {   // baskets without a latte, so that latte and beans go together more often than by chance
                lines.append(#"{"type":"track","event":"Order Completed","userId":"p\#(index)","timestamp":"2026-02-21T10:00:00Z","properties":{"order_id":"t\#(index)","revenue":6,"products":[{"name":"Tea","price":3},{"name":"Scone","price":3}]}}"#)
            }
        }
        try fixture.ingest(lines.joined(separator: "\n") + "\n")
        try fixture.build()
        func recommended(_ text: String) -> [String: String] {
            // Email Address,First Name,Last Name,BIRTHDAY_MONTH,RFM_SEGMENT,RECOMMENDED_ITEMS,Tags (no commas in these values)
            Dictionary(uniqueKeysWithValues: text.split(separator: "\n").dropFirst().map { line in
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                return (cells[0], cells[5])
            })
        }
        let before = recommended(try fixture.export("buyers", channel: .email, name: "before.csv").1)
        #expect(before["person6@example.com"] == "Beans 250g" && before["person8@example.com"] == "Beans 250g", "\(before)")
        #expect(before["person7@example.com"] == "", "no personalisation consent: no recommendations made")
        #expect(before["person0@example.com"]?.contains("Beans") == false, "not what they already buy")

        // p8 withdraws after the build: the export leaves their recommendations out before the file knows.
        let withdrawal = try fixture.ingest(#"{"type":"track","event":"Consent Updated","userId":"p8","timestamp":"2026-03-01T10:00:00Z","context":{"consent":{"categoryPreferences":{"personalisation":false}}}}"# + "\n")
        let after = recommended(try fixture.export("buyers", channel: .email, name: "after.csv").1)
        #expect(after["person8@example.com"] == "" && after["person6@example.com"] == "Beans 250g")

        // Taking effect: recommended_items cleared in the marketing file, and p8 out of the segment that reads it; the rest stays.
        let file = try ProjectionInspector(vault: fixture.owner, purpose: "marketing", role: .marketing)
        #expect(try file.rows(sql: "SELECT count(*) FROM segment_members WHERE segment = 'beans_cross_sell' AND customer_id = 'p8'") == [[.integer(1)]])
        try ConsentEffects.apply(withdrawal.withdrawals, vault: fixture.owner, policy: fixture.policy)
        let purged = try ProjectionInspector(vault: fixture.owner, purpose: "marketing", role: .marketing)
        #expect(try purged.rows(sql: "SELECT recommended_items, shop_times FROM single_view WHERE customer_id = 'p8'") == [[.null, .integer(3)]])
        #expect(try purged.rows(sql: "SELECT customer_id FROM segment_members WHERE segment = 'beans_cross_sell' AND customer_id IN ('p6', 'p8')")
                == [[.text("p6")]])
        // Only the role that activates gets them in the marketing purpose: the analyst's marketing file has no such column.
        let analyst = try ProjectionInspector(vault: fixture.owner, purpose: "marketing", role: .analyst)
        #expect(try analyst.rows(sql: "SELECT count(*) FROM pragma_table_info('single_view') WHERE name = 'recommended_items'") == [[.integer(0)]])
    }
}
