import CofferActivation
import CofferCrypto
import CofferFormats
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import CofferTestSupport

/// A vault of twelve café customers who consent to marketing, email and SMS,
/// with projections built, a marketing actor `mia` and a compliance actor `dpo`.
final class ActivationFixture {
    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    let owner: Vault
    let policy: Policy
    let segments: [SegmentDefinition]
    /// 2026-03-02T09:00:00Z: "now" for ingest, builds and exports.
    let now: Int64 = Timestamp.parse("2026-03-02T09:00:00Z")!
    /// When later ingests are received (default `now`).
    var ingestNow: Int64?
    static let marketingPassphrase = "marketing passphrase"
    static let compliancePassphrase = "compliance passphrase"

    init(people: Int = 12) throws {
        scratch = try ScratchVault("activation", passphrase: "activation test passphrase")
        owner = try scratch.create()
        policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        segments = try SegmentCatalog.parse("""
            segments:
              buyers:
                description: Everyone who bought.
                rule: shop_times >= 1
              big_spenders:
                rule: total_spend >= 10
              beans_cross_sell:
                rule: recommended_items contains 'Beans 250g'
            """, file: "segments.yaml", fields: SegmentCatalog.fields(for: policy))
        var lines: [String] = []
        for index in 0..<people {
            let user = "p\(index)"
            lines.append(#"{"type":"identify","userId":"\#(user)","timestamp":"2026-01-0\#(1 + index % 9)T10:00:00Z","traits":{"email":" Person\#(index)@Example.com ","phone":"+44 7700 9001\#(String(format: "%02d", index))","firstName":"P\#(index)","birthday":"1990-0\#(1 + index % 9)-15"},"context":{"device":{"token":"tok-\#(index)"}}}"#)
            lines.append(#"{"type":"track","event":"Consent Updated","userId":"\#(user)","timestamp":"2026-01-10T10:00:00Z","context":{"consent":{"categoryPreferences":{"marketing":true,"email":true,"sms":\#(index % 2 == 0),"push":true}}}}"#)
            lines.append(#"{"type":"track","event":"Order Completed","userId":"\#(user)","timestamp":"2026-02-0\#(1 + index % 9)T10:00:00Z","properties":{"revenue":\#(5 + index)}}"#)
        }
        try ingest(lines.joined(separator: "\n") + "\n")
        try owner.addActor("mia", role: .marketing, passphrase: SecureBytes(Array(Self.marketingPassphrase.utf8)), kdf: ScratchVault.kdf)
        try owner.addActor("dpo", role: .compliance, passphrase: SecureBytes(Array(Self.compliancePassphrase.utf8)), kdf: ScratchVault.kdf)
        try build()
    }

    @discardableResult
    func ingest(_ lines: String) throws -> IngestReport {
        let input = directory.appendingPathComponent("input-\(UUID().uuidString).jsonl")
        try lines.write(to: input, atomically: true, encoding: .utf8)
        let ingestor = try Ingestor(vault: owner, policy: policy)
        let now = ingestNow ?? now
        ingestor.clock = { now }
        return try ingestor.ingest(path: input.path)
    }

    @discardableResult
    func build() throws -> BuildReport {
        try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(now: now)
    }

    func marketing() throws -> Vault {
        try Vault.unlock(layout: scratch.layout, actor: "mia", passphrase: SecureBytes(Array(Self.marketingPassphrase.utf8)))
    }

    func desk() throws -> RequestDesk {
        let vault = try Vault.unlock(layout: scratch.layout, actor: "dpo", passphrase: SecureBytes(Array(Self.compliancePassphrase.utf8)))
        let desk = RequestDesk(vault: vault, policy: policy, segments: segments)
        desk.now = { [now] in now }
        return desk
    }

    /// Exports as `mia`.
    func export(_ segment: String, channel: ActivationSettings.Channel, destination: String? = nil, name: String) throws -> (AudienceReport, String) {
        let url = directory.appendingPathComponent(name)
        let report = try AudienceExporter(vault: try marketing(), policy: policy)
            .export(segment: segment, channel: channel, destination: destination, to: url, now: now)
        return (report, try String(contentsOf: url, encoding: .utf8))
    }
}
