import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import CofferFormats
import CofferTestSupport

/// A vault with three customers (Ann with an anonymous visit merged in by an
/// alias, Bo, Cy), two quarantined records, projections built, and a
/// compliance actor `dpo` holding the request desk.
final class RequestFixture {
    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    var layout: VaultLayout { scratch.layout }
    let owner: Vault
    var policy: Policy
    let segments: [SegmentDefinition]
    /// 2026-03-02T09:00:00Z: "now" for builds and requests.
    let now: Int64 = Timestamp.parse("2026-03-02T09:00:00Z")!
    static let kdf = ScratchVault.kdf
    static let compliancePassphrase = "compliance passphrase"

    /// - Parameter legacyKeys: seal the fixture's data as vaults from before key epochs did (one key per subject).
    init(legacyKeys: Bool = false) throws {
        scratch = try ScratchVault("requests", passphrase: "request test passphrase")
        owner = try scratch.create()
        policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        segments = try SegmentCatalog.parse("""
            segments:
              spenders:
                description: Spent 20 or more.
                rule: total_spend >= 20
              browsers:
                rule: channels contains 'web'
            """, file: "segments.yaml", fields: SegmentCatalog.fields(for: policy))
        try owner.eventLog().sealsUnderLegacyKeys = legacyKeys
        let report = try ingest(Self.events)
        try owner.eventLog().sealsUnderLegacyKeys = false
        precondition(report.quarantined == 2 && report.merges == 1, "fixture: \(report)")
        try owner.addActor("dpo", role: .compliance, passphrase: SecureBytes(Array(Self.compliancePassphrase.utf8)), kdf: Self.kdf)
        try build()
    }


    static let events = """
        {"type":"page","anonymousId":"anon-ann-1","name":"Home","timestamp":"2025-11-30T12:00:00Z","properties":{"referrer":"newsletter-winter"}}
        {"type":"identify","userId":"u1","timestamp":"2025-12-01T12:00:00Z","traits":{"email":"Ann@Example.com","phone":"+44 7700 900123","firstName":"Annabelle","lastName":"Wintergreen","age":37,"birthday":"1989-05-17","city":"Kirkcudbright"}}
        {"type":"alias","previousId":"anon-ann-1","userId":"u1","timestamp":"2025-12-01T12:05:00Z"}
        {"type":"track","event":"Consent Updated","userId":"u1","timestamp":"2025-12-01T12:01:00Z","context":{"consent":{"categoryPreferences":{"marketing":true,"personalisation":false}}}}
        {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-01-01T10:00:00+01:00","properties":{"revenue":10.0,"channel":"online","product":"Pistachio Croissant"},"context":{"channel":"web"}}
        {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-01-31T09:00:00Z","properties":{"spending":20,"channel":"in-store"}}
        {"type":"identify","userId":"u2","timestamp":"2025-12-05T12:00:00Z","traits":{"email":"bo@example.com","firstName":"Bodhi","lastName":"Marchetti","age":24}}
        {"type":"track","event":"Consent Updated","userId":"u2","timestamp":"2025-12-05T12:01:00Z","context":{"consent":{"categoryPreferences":{"marketing":true,"personalisation":true}}}}
        {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-02-20T18:30:00-05:00","properties":{"revenue":4.5,"channel":"online"},"context":{"channel":"web"}}
        {"type":"identify","userId":"u3","timestamp":"2025-12-06T12:00:00Z","traits":{"email":"cy@example.com","firstName":"Cyrielle"}}
        {"type":"identify","userId":"u1","timestamp":"not a time","traits":{"email":"ann@example.com","note":"quarantined with Ann's email"}}
        {"type":"identify","userId":"u2","timestamp":"not a time either","traits":{"email":"bo@example.com"}}
        """

    /// Imports JSONL lines under the fixture's policy.
    @discardableResult
    func ingest(_ lines: String) throws -> IngestReport {
        let input = directory.appendingPathComponent("input-\(UUID().uuidString).jsonl")
        try lines.write(to: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: input) }
        let ingestor = try Ingestor(vault: owner, policy: policy)
        let now = now
        ingestor.clock = { now }   // retention is decided as of the fixture's day, whatever the wall clock says
        return try ingestor.ingest(path: input.path)
    }

    @discardableResult
    func build() throws -> BuildReport {
        try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(now: now)
    }

    func compliance() throws -> Vault {
        try Vault.unlock(layout: layout, actor: "dpo", passphrase: SecureBytes(Array(Self.compliancePassphrase.utf8)))
    }

    /// The desk of the compliance actor, working at the fixture's "now".
    func desk(as vault: Vault? = nil) throws -> RequestDesk {
        let desk = RequestDesk(vault: try vault ?? compliance(), policy: policy, segments: segments)
        desk.now = { [now] in now }
        return desk
    }

    static let ann = Identifier(type: .email, raw: "ann@example.com")!
    static let bo = Identifier(type: .email, raw: "bo@example.com")!
    static let cy = Identifier(type: .email, raw: "cy@example.com")!

    /// Every file under the vault directory (database, WAL, shm, projections, audit ledger …).
    func vaultFiles() -> [URL] {
        let walker = FileManager.default.enumerator(at: layout.directory, includingPropertiesForKeys: nil)
        return (walker?.allObjects as? [URL] ?? []).filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
    }

    /// Files of the vault whose raw bytes contain `text` (case-insensitive).
    func filesContaining(_ text: String) throws -> [String] {
        let needle = Array(text.lowercased().utf8)
        return try vaultFiles().filter { url in
            let bytes = try Data(contentsOf: url).map { (65...90).contains($0) ? $0 + 32 : $0 }
            return bytes.containsBytes(needle)
        }.map(\.lastPathComponent)
    }

    /// The rows of `purpose`'s projection as the owner reads them, by email.
    func supportRows() throws -> [String: [String: Cell]] {
        let result = try ProjectionReader(vault: owner, policy: policy, purpose: "support", action: .query)
            .query("SELECT * FROM single_view ORDER BY customer_id")
        var rows: [String: [String: Cell]] = [:]
        for row in result.rows {
            let byColumn = Dictionary(uniqueKeysWithValues: zip(result.columns, row))
            rows[byColumn["email"]?.description ?? "?"] = byColumn
        }
        return rows
    }
}
