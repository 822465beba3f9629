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
