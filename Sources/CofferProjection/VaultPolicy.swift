import CofferCrypto
package import CofferPolicy
package import CofferStore
package import Foundation
import CofferFormats

extension AuditAction {
    /// `policy apply` (and `init`): the vault's policy was recorded; the target is its SHA-256.
    package static let policyApply = AuditAction(rawValue: "policy-apply")
}

/// The policy a vault runs under, kept in the vault itself (`policy.yaml`,
/// and `segments.yaml` beside it), so commands do not depend on the working
/// directory. Recorded by `init` and changed by `policy apply` (owner, audited
/// with the file's SHA-256); a copy edited by hand is refused.
package enum VaultPolicy {
    /// Where the vault keeps its policy and its segment definitions.
    package static func policyURL(_ layout: VaultLayout) -> URL { layout.directory.appendingPathComponent("policy.yaml") }
    package static func segmentsURL(_ layout: VaultLayout) -> URL { layout.directory.appendingPathComponent("segments.yaml") }

    /// The recorded policy, or nil for a vault that has none (one made before
    /// policies were recorded: commands then use --policy as they did).
    package static func load(_ layout: VaultLayout) throws -> Policy? {
        let url = policyURL(layout)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try PolicyLoader.load(path: url.path)
    }

    /// Validates `policyPath` (and the segment definitions at `segmentsPath`,
    /// when given or beside it) and records them as the vault's, atomically,
    /// with an audit entry. Owner only.
    /// - Returns: the policy and the number of segments recorded.
    @discardableResult
    package static func apply(policyPath: String, segmentsPath: String?, vault: Vault) throws -> (Policy, Int) {
        guard vault.role == .owner else {
            try vault.audit(.policyApply, decision: .denied, reason: "only the owner changes the vault's policy")
            throw VaultError.permissionDenied(actor: vault.actor, role: vault.role.rawValue, needs: "the owner role to change the vault's policy")
        }
        let policy = try PolicyLoader.load(path: policyPath)
        let segments = SegmentCatalog.resolvePath(explicit: segmentsPath, policyPath: policyPath)
        let definitions = try SegmentCatalog.load(path: segments, policy: policy, required: segmentsPath != nil)
        let policyBytes = try Data(contentsOf: URL(fileURLWithPath: policyPath))
        if FileManager.default.fileExists(atPath: segments) {
            try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: segments)), to: segmentsURL(vault.layout))
        } else if FileManager.default.fileExists(atPath: segmentsURL(vault.layout).path) {
            try FileManager.default.removeItem(at: segmentsURL(vault.layout))
        }
        try AtomicFile.write(policyBytes, to: policyURL(vault.layout))
        try vault.audit(.policyApply, target: "policy:\(policy.sha256)",
                        reason: "policy '\(policy.name)' version \(policy.version), \(definitions.count) segment(s)"
                            + (definitions.isEmpty ? "" : ", segments sha256 \(try segmentsHash(vault.layout) ?? "-")"))
        return (policy, definitions.count)
    }

    /// Checks that the recorded files are the ones last applied (the latest
    /// `policy-apply` entry, which is signed): a copy edited by hand is refused.
    package static func verify(_ vault: Vault) throws {
        guard let policy = try load(vault.layout) else { return }
        let applied = try vault.auditLedger().entries(action: .policyApply).last { $0.decision == .allowed }
        guard let applied, applied.details.target == "policy:\(policy.sha256)" else {
            throw VaultError.corruptFile(path: policyURL(vault.layout).path,
                                         reason: "it is not the policy last applied with `coffer policy apply` (edited by hand?); "
                                            + "apply the intended file again")
        }
        let appliedSegments = applied.details.reason?.range(of: "segments sha256 ").map { String(applied.details.reason![$0.upperBound...]) }
        guard try segmentsHash(vault.layout) == appliedSegments else {
            throw VaultError.corruptFile(path: segmentsURL(vault.layout).path,
                                         reason: "it is not the segment file last applied with `coffer policy apply`; apply it again")
        }
    }

    static func segmentsHash(_ layout: VaultLayout) throws -> String? {
        guard let data = FileManager.default.contents(atPath: segmentsURL(layout).path) else { return nil }
        return try SHA256.hash(Array(data)).hexString
    }
}
