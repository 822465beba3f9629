public import CofferCrypto
import Foundation

extension AuditAction {
    /// `coffer init`: the ledger's first entry.
    public static let vaultInit = AuditAction(rawValue: "vault-init")
}

extension Vault {
    /// The audit ledger, opened with the keys this actor holds: every role can
    /// append (details are encrypted under the audit read key, which every slot
    /// holds); roles with the signing key also sign each entry.
    public func auditLedger() throws -> AuditLedger {
        if let cachedAudit { return cachedAudit }
        let readKey: SymmetricKey
        var signer: Ed25519.PrivateKey?
        let publicKey: Ed25519.PublicKey
        if bundle[KeyBundle.Name.master] != nil {
            let keys = try keys()
            readKey = keys.auditRead
            signer = keys.auditSigning
            publicKey = keys.auditSigning.publicKey
        } else if let read = bundle[KeyBundle.Name.auditRead] {
            readKey = read
            if let seed = bundle[KeyBundle.Name.auditSigning] {
                signer = try Ed25519.PrivateKey(seed: seed.bytes)
                publicKey = signer!.publicKey
            } else if let pinned = bundle[KeyBundle.Name.auditPublic] {
                publicKey = try Ed25519.PublicKey(rawRepresentation: pinned.bytes.withUnsafeBytes { Array($0) })
            } else {
                throw VaultError.permissionDenied(actor: actor, role: role.rawValue, needs: "the audit public key")
            }
        } else {
            throw VaultError.permissionDenied(actor: actor, role: role.rawValue, needs: "the audit read key")
        }
        let queue = try AuditLedger.open(layout: layout, vaultID: vaultID, publicKey: publicKey)
        let ledger = try AuditLedger(queue: queue, vaultID: vaultID, readKey: readKey, signer: signer)
        cachedAudit = ledger
        return ledger
    }

    /// Records that this actor did `action` (or was refused it).
    @discardableResult
    public func audit(_ action: AuditAction, decision: AuditDecision = .allowed, purpose: String? = nil, target: String? = nil,
                      rows: Int = 0, reason: String? = nil, policy: String? = nil) throws -> Int64 {
        try auditLedger().record(action, decision: decision, details: AuditDetails(
            actor: actor, role: role.rawValue, purpose: purpose, target: target, rows: rows, reason: reason,
            policy: policy ?? policyInUse))
    }

    /// Fails unless the actor's role grants `permission`; a refusal is recorded
    /// in the audit ledger as a denial of `action` before it is thrown.
    /// - Throws: `VaultError.notPermitted`, naming the permission and the roles that have it.
    public func require(_ permission: Permission, for action: AuditAction, purpose: String? = nil, target: String? = nil) throws {
        guard role.permissions.contains(permission) else {
            let error = VaultError.notPermitted(actor: actor, role: role, permission: permission)
            // The denial must not hide behind a failure to record it, nor be lost silently.
            do {
                try audit(action, decision: .denied, purpose: purpose, target: target, reason: "lacks the '\(permission.rawValue)' permission")
            } catch {
                warn("the denial could not be recorded in the audit ledger: \(error)")
            }
            throw error
        }
    }

    /// Notes the policy a command runs under: later entries carry its hash, and
    /// a `policy-load` entry is written when this policy was not the last one recorded.
    public func usePolicy(sha256: String, name: String) throws {
        policyInUse = sha256
        let ledger = try auditLedger()
        let last = try ledger.lastPolicyLoad()
        if last != "policy:\(sha256)" {
            try audit(.policyLoad, target: "policy:\(sha256)", reason: "policy '\(name)'")
        }
    }

    /// How a subject appears in audit targets.
    public static func auditTarget(_ subject: SubjectID) -> String { "subject:\(subject.hex)" }
}

extension AuditLedger {
    /// The target of the latest `policy-load` entry.
    func lastPolicyLoad() throws -> String? {
        try entries(action: .policyLoad).last?.details.target
    }
}

extension AuditAction {
    /// `audit log` (recorded only when refused).
    public static let auditLog = AuditAction(rawValue: "audit-log")
}

/// Which audit entries `audit log` shows; nil fields do not filter.
public struct AuditFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var actor: String?
    public var action: AuditAction?
    public var decision: AuditDecision?
    /// Entries whose target is one of these (`subject:HEX`, …).
    public var targets: Set<String>?

    public init(since: Int64? = nil, until: Int64? = nil, actor: String? = nil, action: AuditAction? = nil,
                decision: AuditDecision? = nil, targets: Set<String>? = nil) {
        self.since = since
        self.until = until
        self.actor = actor
        self.action = action
        self.decision = decision
        self.targets = targets
    }

    public func matches(_ entry: AuditEntry) -> Bool {
        if let since, entry.at < since { return false }
        if let until, entry.at > until { return false }
        if let actor, entry.details.actor != actor { return false }
        if let action, entry.action != action { return false }
        if let decision, entry.decision != decision { return false }
        if let targets, !targets.contains(entry.details.target ?? "") { return false }
        return true
    }
}

extension Vault {
    /// The audit entries `filter` selects, decrypted (needs `read-audit`).
    public func auditEntries(_ filter: AuditFilter = AuditFilter()) throws -> [AuditEntry] {
        try require(.readAudit, for: .auditLog)
        return try auditLedger().entries().filter(filter.matches)
    }

    /// The audit public key as this actor's keys know it (not as the ledger file
    /// says): what an auditor should pin.
    public func auditPublicKey() throws -> Ed25519.PublicKey {
        try require(.readAudit, for: .auditLog)
        if bundle[KeyBundle.Name.master] != nil { return try keys().auditSigning.publicKey }
        if let pinned = bundle[KeyBundle.Name.auditPublic] {
            return try Ed25519.PublicKey(rawRepresentation: pinned.bytes.withUnsafeBytes { Array($0) })
        }
        throw VaultError.permissionDenied(actor: actor, role: role.rawValue, needs: "the audit public key")
    }
}
