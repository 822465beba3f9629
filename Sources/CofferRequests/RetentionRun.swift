import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// `retention apply`.
    public static let retentionApply = AuditAction(rawValue: "retention-apply")
}

/// What `coffer retention apply` did (or, with `--dry-run`, would do): counts
/// and cutoffs, never values. Signed like an erasure receipt.
public struct RetentionReport: Codable, Sendable, Equatable {
    public var format = "coffer-retention-report/1"
    public var vaultID: String
    public var at: String
    public var dryRun: Bool
    public var policySHA256: String
    /// Event kind → the oldest event time still read (ISO-8601): older ones are left out of every
    /// projection, profile and export. They are not destroyed yet (crypto-shredding by period is not built).
    public var readCutoffs: [String: String]
    /// The quarantine's cutoff, and the records older than it that were (or would be) deleted.
    public var quarantineCutoff: String?
    public var quarantineDeleted: Int
    public var eventsDestroyed = 0
    public var note = "Events past retention are left out at read; destroying them (crypto-shredding by period) is not built yet."
}

/// A retention report with its Ed25519 signature (over its sorted-key JSON).
public struct SignedRetentionReport: Codable, Sendable {
    public var report: RetentionReport
    public var signature: String
    public var signingKey: String
}

/// Applies the policy's retention periods where Coffer can so far: rejected
/// input older than `retention: quarantine:` is deleted (`secure_delete`, then
/// the WAL truncated), and the read cutoffs of each event kind are reported.
/// Owner or compliance; audited; signed.
public enum RetentionRun {
    public static func apply(vault: Vault, policy: Policy, now: Int64 = EventLog.now(), dryRun: Bool) throws -> SignedRetentionReport {
        guard vault.role == .owner || vault.role == .compliance else {
            try vault.audit(.retentionApply, decision: .denied, reason: "only the owner or compliance applies retention")
            throw VaultError.permissionDenied(actor: vault.actor, role: vault.role.rawValue, needs: "the owner or compliance role")
        }
        let cutoffs = RetentionCutoffs(policy: policy, now: now)
        var readCutoffs: [String: String] = [:]
        for kind in [EventKind.identify, .track, .page, .screen, .rectify] {
            if let period = policy.retention(for: kind) { readCutoffs[kind.rawValue] = Timestamp.format(period.subtracting(from: cutoffs.day)) }
        }
        let quarantineCutoff = policy.quarantineRetention.map { $0.subtracting(from: now) }
        var deleted = 0
        if let quarantineCutoff {
            deleted = try vault.database.read {
                try Int.fetchOne($0, sql: "SELECT count(*) FROM quarantine WHERE received_at < ?", arguments: [quarantineCutoff]) ?? 0
            }
            if !dryRun, deleted > 0 {
                try vault.database.write { try $0.execute(sql: "DELETE FROM quarantine WHERE received_at < ?", arguments: [quarantineCutoff]) }
                _ = try vault.truncateWAL()
            }
        }
        let report = RetentionReport(vaultID: vault.vaultID.hexString, at: Timestamp.format(now), dryRun: dryRun, policySHA256: policy.sha256,
                                     readCutoffs: readCutoffs, quarantineCutoff: quarantineCutoff.map(Timestamp.format),
                                     quarantineDeleted: deleted)
        let (signature, signingKey) = try SignedReceipt.sign(report, vault: vault)
        let signed = SignedRetentionReport(report: report, signature: signature, signingKey: signingKey)
        try vault.audit(.retentionApply, rows: deleted,
                        reason: (dryRun ? "dry run: " : "") + "quarantine records past retention: \(deleted)")
        return signed
    }
}
