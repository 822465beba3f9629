import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing

/// Issue 16, item 1 (first part): an event past retention is absent from every projection and export.
struct RetentionTests {
    @Test("events older than their kind's retention count for nothing in a build, a profile or an export")
    func expiredEventsAreLeftOut() throws {
        let fixture = try RequestFixture()
        // Bo, long ago: a purchase in 2023 (track: 25 months), a page visit in 2024 (page: 13 months),
        // and a profile from 2022 (identify: 36 months). "Now" is 2026-03-02.
        try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2023-06-01T10:00:00Z","properties":{"revenue":100},"messageId":"old-1"}
            {"type":"page","userId":"u2","name":"Old page","timestamp":"2024-06-01T10:00:00Z","properties":{"path":"/ancient-history"},"messageId":"old-2"}
            {"type":"identify","userId":"u2","timestamp":"2022-06-01T10:00:00Z","traits":{"city":"Oldtown"},"messageId":"old-3"}
            """)
        try fixture.build()   // incremental: the new events are read with the same cutoffs
        let bo = try #require(try fixture.supportRows()["bo@example.com"])
        #expect(bo["total_spend"] == .real(4.5), "the 2023 purchase of 100 is past retention")
        #expect(bo["shop_times"] == .integer(1))
        #expect(bo["city"] == .null, "the 2022 profile is past retention")
        #expect(bo["customer_id"] == .text("u2"), "the person keeps their key")

        let out = fixture.directory.appendingPathComponent("bo.zip")
        _ = try fixture.desk().export(subject: RequestFixture.bo, to: out)
        let events = try #require(try BundleVerifier.files(out)["events.json"])
        let text = String(decoding: events, as: UTF8.self)
        #expect(!text.contains("ancient-history") && !text.contains("Oldtown") && !text.contains("old-1"))
        #expect(text.contains("Order Completed"), "the recent purchase is there")
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

/// Issue 16, item 1: quarantined input expires, through `retention apply`.
struct RetentionApplyTests {
    @Test("retention apply deletes quarantined records past the policy period (not with --dry-run), signs its report, and is audited")
    func quarantineExpires() throws {
        let fixture = try RequestFixture()
        // The fixture quarantined two records "now" (their receive time is the wall clock).
        let quarantine = try fixture.owner.quarantine()
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 2)
        #expect(fixture.policy.quarantineRetention?.description == "90d")
        let soon = try RetentionRun.apply(vault: fixture.compliance(), policy: fixture.policy, dryRun: false)
        #expect(soon.report.quarantineDeleted == 0, "not yet 90 days old")
        let later = EventLog.now() + 91 * 86_400_000
        let dry = try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: true)
        #expect(dry.report.quarantineDeleted == 2 && dry.report.dryRun)
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 2, "a dry run deletes nothing")
        let applied = try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: false)
        #expect(applied.report.quarantineDeleted == 2)
        #expect(try fixture.owner.database.read { try quarantine.count(in: $0) } == 0)
        #expect(applied.report.readCutoffs["page"] != nil && applied.report.eventsDestroyed == 0)
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
}
