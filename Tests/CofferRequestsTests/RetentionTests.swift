import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import GRDB
import Testing
import CofferFormats

/// Issue 16, item 1 (first part): an event past retention is absent from every projection and export.
struct RetentionTests {
    @Test("events that pass their kind's retention count for nothing in a build, a profile or an export, before any shredding")
    func expiredEventsAreLeftOut() throws {
        let fixture = try RequestFixture()
        // Bo, some time ago, all still within retention on the fixture's day (2 March 2026): a purchase of
        // 15 March 2024 (track: 25 months), a page visit of 15 February 2025 (page: 13 months), a profile of
        // 15 March 2023 (identify: 36 months). Two months later, all three have passed their periods.
        let report = try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2024-03-15T10:00:00Z","properties":{"revenue":100},"messageId":"old-1"}
            {"type":"page","userId":"u2","name":"Old page","timestamp":"2025-02-15T10:00:00Z","properties":{"path":"/ancient-history"},"messageId":"old-2"}
            {"type":"identify","userId":"u2","timestamp":"2023-03-15T10:00:00Z","traits":{"city":"Oldtown"},"messageId":"old-3"}
            """)
        #expect(report.accepted == 3 && report.expired == 0)
        try fixture.build()
        #expect(try fixture.supportRows()["bo@example.com"]?["total_spend"] == .real(104.5), "today the old purchase still counts")

        let later = fixture.now + 60 * RetentionApplyTests.day
        let build = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: fixture.segments).build(now: later)
        #expect(build.startSeq == 0, "another day: the whole log is read again")
        let bo = try #require(try fixture.supportRows()["bo@example.com"])
        #expect(bo["total_spend"] == .real(4.5), "the 2024 purchase of 100 is past retention")
        #expect(bo["shop_times"] == .integer(1))
        #expect(bo["city"] == .null, "the 2023 profile is past retention")
        #expect(bo["customer_id"] == .text("u2"), "the person keeps their key")

        let out = fixture.directory.appendingPathComponent("bo.zip")
        let desk = try fixture.desk()
        desk.now = { later }
        _ = try desk.export(subject: RequestFixture.bo, to: out)
        let events = try #require(try BundleVerifier.files(out)["events.json"])
        let text = String(decoding: events, as: UTF8.self)
        #expect(!text.contains("ancient-history") && !text.contains("Oldtown") && !text.contains("old-1"))
        #expect(text.contains("Order Completed"), "the recent purchase is there")

        // Ingest keeps nothing that is already past retention.
        let stale = try fixture.ingest(#"{"type":"page","userId":"u2","timestamp":"2024-06-01T10:00:00Z","messageId":"older-page"}"#)
        #expect(stale.expired == 1 && stale.accepted == 0)
    }

    @Test("a build on another day reads the whole log again (its saved sums may hold events expired since)")
    func stateIsForOneDay() throws {
        let fixture = try RequestFixture()
        let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: fixture.segments)
        try fixture.ingest(#"{"type":"page","userId":"u1","timestamp":"2026-03-01T10:00:00Z","messageId":"new-1"}"#)
        let sameDay = try builder.build(now: fixture.now + 3_600_000)
        #expect(sameDay.startSeq > 0, "same day: incremental")
        try fixture.ingest(#"{"type":"page","userId":"u1","timestamp":"2026-03-01T11:00:00Z","messageId":"new-2"}"#)
        let nextDay = try builder.build(now: fixture.now + 86_400_000)
        #expect(nextDay.startSeq == 0, "another day: the whole log")
    }
}

/// Issue 16, item 1: `retention apply` destroys what is past retention.
struct RetentionApplyTests {
    static let day: Int64 = 86_400_000

    @Test("retention apply deletes quarantined records past the policy period (not with --dry-run), signs its report, and is audited")
    func quarantineExpires() throws {
        let fixture = try RequestFixture()
        // The fixture quarantined two records at its "now".
        let quarantine = try fixture.owner.quarantine()
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 2)
        #expect(fixture.policy.quarantineRetention?.description == "90d")
        let soon = try RetentionRun.apply(vault: fixture.compliance(), policy: fixture.policy, now: fixture.now + 89 * Self.day, dryRun: false)
        #expect(soon.report.quarantineDeleted == 0, "not yet 90 days old")
        let later = fixture.now + 91 * Self.day
        let dry = try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: true)
        #expect(dry.report.quarantineDeleted == 2 && dry.report.dryRun)
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 2, "a dry run deletes nothing")
        let applied = try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: false)
        #expect(applied.report.quarantineDeleted == 2)
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 0)
        #expect(applied.report.readCutoffs["page"] != nil && applied.report.eventsDestroyed == 0, "no event is 13 months old yet")
        // Signed by the vault's audit key, over the sorted-key JSON.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let key = try fixture.owner.keys().auditSigning.publicKey
        #expect(key.isValidSignature(try #require([UInt8](hexString: applied.signature)), for: Array(try encoder.encode(applied.report))))
        #expect(try fixture.owner.auditEntries(AuditFilter(action: .retentionApply)).count == 3)
        // Nobody else runs it.
        #expect(throws: VaultError.self) {
            try fixture.owner.addActor("ana", role: .analyst, passphrase: SecureBytes(Array("analyst passphrase".utf8)), kdf: RequestFixture.kdf)
            let analyst = try Vault.unlock(layout: fixture.layout, actor: "ana", passphrase: SecureBytes(Array("analyst passphrase".utf8)))
            _ = try RetentionRun.apply(vault: analyst, policy: fixture.policy, dryRun: true)
        }
    }

    /// The key versions of `kind`'s events in the log.
    static func versions(_ kind: EventKind, _ vault: Vault) throws -> Set<Int64> {
        try vault.database.read { Set(try Int64.fetchAll($0, sql: "SELECT key_version FROM events WHERE kind = ?", arguments: [kind.rawValue])) }
    }

    /// Whether key epoch `version` has its secret (nil: it never had one).
    static func secretKept(version: Int64, _ vault: Vault) throws -> Bool? {
        try vault.database.read {
            try Row.fetchOne($0, sql: "SELECT wrapped_key IS NOT NULL FROM epoch_keys WHERE key_version = ?", arguments: [version]).map { $0[0] as Bool }
        }
    }

    @Test("collected events are sealed under keys per kind and month; identifiers and decisions under the subject's record key")
    func keysByKindAndMonth() throws {
        let fixture = try RequestFixture()
        #expect(try Self.versions(.page, fixture.owner) == [20251103], "Ann's visit of 30 November 2025")
        #expect(try Self.versions(.identify, fixture.owner) == [20251201])
        #expect(try Self.versions(.track, fixture.owner) == [20251202, 20260102, 20260202],
                "a consent update in December, purchases in January and February (18:30 at UTC−5 is still 20 February)")
        #expect(try Self.versions(.consent, fixture.owner) == [Int64(KeyEpoch.recordVersion)])
        #expect(try Self.versions(.merge, fixture.owner) == [Int64(KeyEpoch.recordVersion)])
        // One keyring key per subject (the record key), one secret per kind and month.
        let (keys, subjects) = try fixture.owner.database.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM keyring") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(DISTINCT subject_id) FROM keyring WHERE key_version = 0") ?? 0)
        }
        #expect(keys == subjects && subjects >= 4, "Ann, her anonymous visit, Bo, Cy (and the tombstone-free fixture has no others)")
        #expect(try fixture.owner.database.read { try Int64.fetchAll($0, sql: "SELECT key_version FROM epoch_keys ORDER BY 1") }
                == [20251103, 20251201, 20251202, 20251205, 20260102, 20260202])
        #expect(KeyEpoch(version: 20251103) == KeyEpoch(kind: .page, time: Timestamp.parse("2025-11-30T12:00:00Z")!))
        #expect(KeyEpoch(version: 20251103)?.end == Timestamp.parse("2025-12-01T00:00:00Z"))
        // Any reader derives the same month keys as the writer, wherever it starts reading.
        let total = try fixture.owner.eventLog().count()
        for start in [Int64(0), 3, 7] {
            let reader = try fixture.owner.logReader()
            var read = 0
            try reader.database.read { db in try reader.scan(kinds: Set(EventKind.allCases), afterSeq: start, in: db) { _ in read += 1 } }
            #expect(read == total - Int(start), "reading after seq \(start)")
        }
        // A claimed future date does not choose the month: it is filed when it was recorded.
        #expect(KeyEpoch.filingTime(occurredAt: fixture.now + 400 * Self.day, recordedAt: fixture.now) == fixture.now)
    }

    @Test("an event past retention is unreadable after retention apply, the log still verifies, and its month takes no new event")
    func expiredMonthsAreShredded() throws {
        let fixture = try RequestFixture()
        let graph = try fixture.owner.identityGraph()
        let ann = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann)).subject
        let kinds = { try fixture.owner.database.read { db in Set(try graph.events(ofPerson: ann, in: db).map(\.kind)) } }
        #expect(try kinds().contains(.page))
        // 15 January 2027: page events before 15 December 2025 are past their 13 months; nothing else is.
        let later = try #require(Timestamp.parse("2027-01-15T08:00:00Z"))
        let dry = try RetentionRun.apply(vault: fixture.compliance(), policy: fixture.policy, now: later, dryRun: true)
        #expect(dry.report.epochs == [EpochShred(kind: "page", month: "2025-11", subjects: 1, eventsUnreadable: 1)])
        #expect(try Self.secretKept(version: 20251103, fixture.owner) == true, "a dry run destroys nothing")
        #expect(try kinds().contains(.page))

        let applied = try RetentionRun.apply(vault: fixture.compliance(), policy: fixture.policy, now: later, dryRun: false)
        #expect(applied.report.epochs == dry.report.epochs && applied.report.eventsDestroyed == 1)
        #expect(try Self.secretKept(version: 20251103, fixture.owner) == false, "emptied, and kept so the month gets no new secret")
        #expect(try !kinds().contains(.page), "Ann's visit cannot be decrypted any more (not even from the owner's keys cached before)")
        #expect(try kinds().isSuperset(of: [.identify, .track, .alias]), "her other events are untouched")
        #expect(try LogVerifier.verify(layout: fixture.layout).isValid, "the log is append-only: nothing was rewritten")
        #expect(try fixture.owner.auditEntries(AuditFilter(action: .retentionApply)).last?.details.rows == 3, "one event unreadable, two quarantined records deleted")

        // The shredded month takes no new page event, even under a policy that would keep it.
        let report = try fixture.ingest(#"{"type":"page","userId":"u3","timestamp":"2025-11-20T10:00:00Z","messageId":"late-page"}"#)
        #expect(report.expired == 1 && report.accepted == 0)
        #expect(throws: VaultError.self) {
            try fixture.owner.eventLog().append([NewEvent(subject: ann, kind: .page, payload: Array("{}".utf8), recordedAt: fixture.now,
                                                          occurredAt: Timestamp.parse("2025-11-02T10:00:00Z"))])
        }
        // December's page events are still in retention, and land.
        #expect(try fixture.ingest(#"{"type":"page","userId":"u3","timestamp":"2025-12-20T10:00:00Z","messageId":"dec-page"}"#).accepted == 1)
        // A build reads around the unreadable rows.
        let build = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: fixture.segments).build(now: later)
        #expect(build.startSeq == 0, "the saved state held the shredded event: the build read the log afresh")
        #expect(try fixture.supportRows()["ann@example.com"]?["total_spend"] == .real(30))
        // Nothing more to do the second time.
        #expect(try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: false).report.epochs.isEmpty)
    }

    @Test("a vault from before key epochs is moved onto them: events sealed again by month, those past retention shredded, state intact")
    func legacyVaultsMoveOntoEpochs() throws {
        let fixture = try RequestFixture(legacyKeys: true)
        let owner = fixture.owner
        #expect(try owner.database.read { try Int64.fetchAll($0, sql: "SELECT DISTINCT key_version FROM keyring") } == [Int64(KeyEpoch.legacyVersion)])
        #expect(try owner.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM epoch_keys") } == 0)
        let (subjects, legacyEvents) = try owner.legacyKeys()
        #expect(subjects >= 4 && legacyEvents > 10)
        let graph = try owner.identityGraph()
        let ann = try #require(try owner.subjectSummary(for: RequestFixture.ann)).subject
        let before = try owner.database.read { try graph.events(ofPerson: ann, in: $0) }
        let consentsBefore = try owner.database.read { try Row.fetchAll($0, sql: "SELECT subject_id, purpose, status FROM consents ORDER BY 1, 2") }
        let spendBefore = try fixture.supportRows()["ann@example.com"]?["total_spend"]

        let later = try #require(Timestamp.parse("2027-01-15T08:00:00Z"))
        let dry = try RetentionRun.apply(vault: owner, policy: fixture.policy, now: later, dryRun: true)
        #expect(dry.report.legacyReseal?.subjects == subjects)
        #expect(try owner.legacyKeys().subjects == subjects, "a dry run moves nothing")

        let applied = try RetentionRun.apply(vault: owner, policy: fixture.policy, now: later, dryRun: false)
        let moved = try #require(applied.report.legacyReseal)
        #expect(moved.subjects == subjects && moved.eventsDropped == 1, "Ann's visit of November 2025 was already past retention")
        #expect(moved.eventsResealed == legacyEvents - 1 && moved.lastSeq - moved.firstSeq + 1 == Int64(moved.eventsResealed))
        #expect(try owner.legacyKeys().subjects == 0, "every legacy key is destroyed")
        #expect(try Self.versions(.page, owner) == [Int64(KeyEpoch.legacyVersion)], "the visit was not sealed again")
        #expect(try Self.versions(.identify, owner) == [Int64(KeyEpoch.legacyVersion), 20251201])

        // The person reads back the same, less the expired visit, from the copies; identifiers open under the record key.
        let after = try owner.database.read { try graph.events(ofPerson: ann, in: $0) }
        #expect(after.map(\.payload) == before.filter { $0.kind != .page }.map(\.payload))
        #expect(after.allSatisfy { $0.seq >= moved.firstSeq })
        #expect(try owner.subjectSummary(for: RequestFixture.ann)?.identifiers.contains(RequestFixture.ann) == true)
        // The consent state names the copies, and says the same.
        #expect(try owner.database.read { try Row.fetchAll($0, sql: "SELECT subject_id, purpose, status FROM consents ORDER BY 1, 2") } == consentsBefore)
        #expect(try owner.database.read { try Int64.fetchAll($0, sql: "SELECT seq FROM consents") }.allSatisfy { $0 >= moved.firstSeq })
        try owner.verifySeals()   // the sealed tables were changed through their seals
        #expect(try LogVerifier.verify(layout: fixture.layout).isValid)
        // The projections stay readable (the copies change no one's data), and a rebuild agrees.
        #expect(try fixture.supportRows()["ann@example.com"]?["total_spend"] == spendBefore)
        try fixture.build()
        #expect(try fixture.supportRows()["ann@example.com"]?["total_spend"] == spendBefore)
        #expect(try RetentionRun.apply(vault: owner, policy: fixture.policy, now: later, dryRun: false).report.legacyReseal == nil)
    }
}
