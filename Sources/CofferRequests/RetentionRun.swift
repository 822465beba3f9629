import CofferCrypto
package import CofferPolicy
import CofferProjection
package import CofferStore
import Foundation
import GRDB
import CofferFormats

extension AuditAction {
    /// `retention apply`.
    package static let retentionApply = AuditAction(rawValue: "retention-apply")
}

/// What `coffer retention apply` did (or, with `--dry-run`, would do): counts,
/// months and cutoffs, never values. Signed like an erasure receipt.
package struct RetentionReport: Codable, Sendable, Equatable {
    package var format = "coffer-retention-report/2"
    package var vaultID: String
    package var at: String
    package var dryRun: Bool
    package var policySHA256: String
    /// Event kind → the oldest event time still read (ISO-8601): older ones are
    /// left out of every projection, profile and export, shredded or not.
    package var readCutoffs: [String: String]
    /// The key epochs (kind and month) whose keys were (or would be) destroyed.
    package var epochs: [EpochShred]
    /// Events made unreadable: those of the destroyed epochs, and legacy events past retention.
    package var eventsDestroyed: Int
    /// A vault from before key epochs: what moving it onto them did (nil when it had nothing to move).
    package var legacyReseal: LegacyReseal?
    /// The quarantine's cutoff, and the records older than it that were (or would be) deleted.
    package var quarantineCutoff: String?
    package var quarantineDeleted: Int
    /// Published copies (`coffer publish`) holding rows folded from the destroyed events: each must be
    /// published again from a later build (`publish status` shows them until it is).
    package var remoteCopiesToRepublish: Int?
    package var note = "Collected events (identify, track, page, screen, alias, group, rectify) are destroyed by month once their "
        + "retention has passed. Consent, merge, restriction and erasure records are evidence, kept until the person is erased."
}

/// A retention report with its Ed25519 signature (over its sorted-key JSON).
package struct SignedRetentionReport: Codable, Sendable {
    package var report: RetentionReport
    package var signature: String
    package var signingKey: String
}

/// Applies the policy's retention periods: moves a vault from before key
/// epochs onto them (dropping what is already past retention), destroys the
/// subject keys of every key epoch whose events have all expired
/// (crypto-shredding by time), deletes rejected input older than
/// `retention: quarantine:`, then truncates the WAL. Owner or compliance;
/// audited; signed. The log itself is never rewritten.
package enum RetentionRun {
    package static func apply(vault: Vault, policy: Policy, now: Int64 = EventLog.now(), dryRun: Bool) throws -> SignedRetentionReport {
        guard vault.role == .owner || vault.role == .compliance else {
            try vault.audit(.retentionApply, decision: .denied, reason: "only the owner or compliance applies retention")
            throw VaultError.permissionDenied(actor: vault.actor, role: vault.role.rawValue, needs: "the owner or compliance role")
        }
        let cutoffs = RetentionCutoffs(policy: policy, now: now)
        var readCutoffs: [String: String] = [:]
        for kind in KeyEpoch.timedKinds where cutoffs.cutoff(kind) > Int64.min {
            readCutoffs[kind.rawValue] = Timestamp.format(cutoffs.cutoff(kind))
        }
        let legacy = try moveLegacyKeys(vault: vault, cutoffs: cutoffs, dryRun: dryRun)
        let epochs = try vault.shredExpiredEpochs(isExpired: cutoffs.isExpired, dryRun: dryRun)
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
        let destroyed = epochs.reduce(0) { $0 + $1.eventsUnreadable } + (legacy?.eventsDropped ?? 0)
        // The saved build state was folded from events that are gone now: the next build reads the log afresh.
        if !dryRun, destroyed > 0 || (legacy?.subjects ?? 0) > 0 { try ProjectionBuilder.forgetState(vault.layout) }
        // Published copies hold rows folded from those events: each owes a publish from a build after this run.
        var remoteCopies: Int?
        if !dryRun, destroyed > 0 {
            remoteCopies = try vault.database.write { try RemoteCopies.queueRetention(at: now, in: $0) }
        }
        let report = RetentionReport(vaultID: vault.vaultID.hexString, at: Timestamp.format(now), dryRun: dryRun, policySHA256: policy.sha256,
                                     readCutoffs: readCutoffs, epochs: epochs, eventsDestroyed: destroyed, legacyReseal: legacy,
                                     quarantineCutoff: quarantineCutoff.map(Timestamp.format), quarantineDeleted: deleted,
                                     remoteCopiesToRepublish: remoteCopies == 0 ? nil : remoteCopies)
        let (signature, signingKey) = try SignedReceipt.sign(report, vault: vault)
        let signed = SignedRetentionReport(report: report, signature: signature, signingKey: signingKey)
        var reason = (dryRun ? "dry run: " : "") + "key epochs past retention \(epochs.count), events unreadable \(destroyed), "
            + "quarantine records past retention \(deleted)"
        if let legacy { reason += ", legacy keys moved to epochs \(legacy.subjects) (events re-sealed \(legacy.eventsResealed))" }
        try vault.audit(.retentionApply, rows: destroyed + deleted, reason: reason)
        return signed
    }

    /// Moves subjects' legacy keys (vaults from before key epochs) onto epoch
    /// keys, leaving out what is already past retention; with `dryRun`, counts
    /// what would move. Nil when no legacy key is left.
    private static func moveLegacyKeys(vault: Vault, cutoffs: RetentionCutoffs, dryRun: Bool) throws -> LegacyReseal? {
        let (subjects, events) = try vault.legacyKeys()
        guard subjects > 0 else { return nil }
        guard !dryRun else {
            return LegacyReseal(subjects: subjects, eventsResealed: events, eventsDropped: 0, firstSeq: 0, lastSeq: 0)
        }
        let destroyed = try vault.database.read(Vault.destroyedEpochs)
        return try vault.resealLegacyKeys { event in
            guard KeyEpoch.timedKinds.contains(event.kind) else { return event.recordedAt }
            let time = event.filingTime
            if cutoffs.isExpired(event.kind, at: time) || destroyed.contains(KeyEpoch.version(of: event.kind, filedAt: time)) { return nil }
            return time
        }
    }
}
