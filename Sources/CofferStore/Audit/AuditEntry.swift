import Foundation

/// What an audit entry records an actor doing. Open like `IdentifierType`, so
/// later commands add their own actions.
public struct AuditAction: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// One batch of an import (`ingest`, `demo`, `quarantine retry`, `consent import`).
    public static let ingest = AuditAction(rawValue: "ingest")
    /// `subject show`: a person's identifiers and event counts.
    public static let subjectShow = AuditAction(rawValue: "subject-show")
    /// `quarantine list`: rejected input.
    public static let quarantineList = AuditAction(rawValue: "quarantine-list")
    /// `consent grant|revoke`.
    public static let consentRecord = AuditAction(rawValue: "consent-record")
    /// `consent show`.
    public static let consentShow = AuditAction(rawValue: "consent-show")
    /// `actor add|remove|passwd`.
    public static let actorAdd = AuditAction(rawValue: "actor-add")
    public static let actorRemove = AuditAction(rawValue: "actor-remove")
    public static let actorPassphrase = AuditAction(rawValue: "actor-passphrase")
    /// `actor list` (recorded only when refused: it shows no customer data).
    public static let actorList = AuditAction(rawValue: "actor-list")
    /// A policy file used for the first time (or changed): its SHA-256 is the target.
    public static let policyLoad = AuditAction(rawValue: "policy-load")
    /// `source add|revoke`: a live source and its write key.
    public static let sourceAdd = AuditAction(rawValue: "source-add")
    public static let sourceRevoke = AuditAction(rawValue: "source-revoke")
    /// `source list` (recorded only when refused).
    public static let sourceList = AuditAction(rawValue: "source-list")

    public var description: String { rawValue }
}

/// Whether the access happened.
public enum AuditDecision: String, Codable, Sendable, CaseIterable {
    case allowed
    case denied
}

/// The encrypted part of an entry: who, why, what, how much. Never a raw
/// identifier or a query result: targets are random subject ids, keyed query
/// hashes, file names or policy hashes.
public struct AuditDetails: Codable, Sendable, Equatable {
    public var actor: String
    public var role: String
    public var purpose: String?
    /// `subject:HEX` (random subject id), `query:HMAC`, `file:NAME`, `policy:SHA256`, `actor:NAME`.
    public var target: String?
    public var rows: Int
    public var reason: String?
    /// SHA-256 of the policy the action ran under, when it ran under one.
    public var policy: String?

    public init(actor: String, role: String, purpose: String? = nil, target: String? = nil, rows: Int = 0,
                reason: String? = nil, policy: String? = nil) {
        self.actor = actor
        self.role = role
        self.purpose = purpose
        self.target = target
        self.rows = rows
        self.reason = reason
        self.policy = policy
    }
}

/// One entry of the audit ledger, decrypted.
public struct AuditEntry: Sendable, Equatable {
    public var seq: Int64
    /// ms since 1970 UTC.
    public var at: Int64
    public var action: AuditAction
    public var decision: AuditDecision
    public var details: AuditDetails
    /// Whether the writer signed it (an auditor's own entries are covered by the next signature instead).
    public var signed: Bool
}
