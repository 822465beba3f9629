public import CofferCrypto
public import CofferStore
import Foundation
import GRDB

/// Why a consent operation was refused.
public enum ConsentError: CofferError, Equatable {
    case unknownPurpose(String, declared: [String])
    case notConsentBased(purpose: String, basis: String)
    case unknownSubject(IdentifierType)
    /// An objection (Art. 21) to a purpose that does not rest on legitimate interests or a public task.
    case notObjectable(purpose: String, basis: String)

    public var description: String {
        switch self {
        case let .unknownPurpose(name, declared):
            return "purpose '\(name)' is not declared in the policy; declared purposes: \(declared.joined(separator: ", "))"
        case let .notConsentBased(purpose, basis):
            return "purpose '\(purpose)' rests on \(basis), not consent, in the policy; consent is not recorded for it"
        case let .unknownSubject(type):
            return "no subject has that \(type.rawValue) identifier"
        case let .notObjectable(_, basis):
            return "the purpose rests on \(basis); an objection applies to legitimate interests or a public task only"
        }
    }
}

extension ConsentError {
    /// The reason without the values it was given, for a quarantine reason
    /// (stored in clear): the purpose cell of a bad row may hold anything.
    public var reasonWithoutInput: String {
        switch self {
        case let .unknownPurpose(_, declared):
            return "unknown purpose: not declared in the policy (declared: \(declared.joined(separator: ", ")))"
        case let .notConsentBased(_, basis):
            return "purpose rests on \(basis), not consent, in the policy; consent is not recorded for it"
        case let .unknownSubject(type):
            return "no subject has that \(type.rawValue) identifier"
        case let .notObjectable(purpose, basis):
            return "purpose '\(purpose)' rests on \(basis); an objection (Art. 21) applies to legitimate interests or a public task "
                + (basis == "consent" ? "— withdraw consent instead (`coffer consent revoke`)" : "only")
        }
    }
}

/// Everything known about one person's consent.
public struct ConsentReport: Sendable {
    /// The surviving subject and those merged into it.
    public var subject: SubjectID
    public var merged: [SubjectID]
    /// Every decision, ordered by when it took effect.
    public var history: [ConsentEntry]

    /// The state for `purpose` at `time`.
    public func state(of purpose: String, at time: Int64) -> ConsentState {
        ConsentState.at(time, purpose: purpose, in: history)
    }
}

/// Records and answers consent under a policy: purposes must be declared and
/// consent-based, grants get the policy's validity, every decision is a log event.
public final class ConsentDesk {
    private let vault: Vault
    public let policy: Policy

    /// Notes the policy in the audit trail (a `policy-load` entry when it is new).
    public init(vault: Vault, policy: Policy) throws {
        self.vault = vault
        self.policy = policy
        try vault.usePolicy(sha256: policy.sha256, name: policy.name)
    }

    /// The purpose, checked to exist and to rest on consent.
    public func consentPurpose(_ name: String) throws -> Purpose {
        guard let purpose = policy.purpose(name) else {
            throw ConsentError.unknownPurpose(name, declared: policy.purposes.map(\.name))
        }
        guard purpose.needsConsent else {
            throw ConsentError.notConsentBased(purpose: name, basis: purpose.lawfulBasis.rawValue)
        }
        return purpose
    }

    /// A consent record for `purpose`, with the policy's expiry applied to grants without one.
    public func makeRecord(purpose name: String, status: ConsentStatus, effectiveAt: Int64, source: String,
                           expiresAt: Int64? = nil, evidence: [String: String] = [:]) throws -> ConsentRecord {
        let purpose = try consentPurpose(name)
        let expiry = expiresAt ?? purpose.consentValidFor.map { $0.adding(to: effectiveAt) }
        return ConsentRecord(purpose: name, status: status, lawfulBasis: LawfulBasis.consent.rawValue, source: source,
                             effectiveAt: effectiveAt, expiresAt: expiry, evidence: evidence)
    }

    /// An objection (Art. 21) to `purpose`, which must rest on legitimate
    /// interests or a public task: from then on the person is left out of it.
    public func makeObjection(purpose name: String, effectiveAt: Int64, source: String,
                              evidence: [String: String] = [:]) throws -> ConsentRecord {
        guard let purpose = policy.purpose(name) else {
            throw ConsentError.unknownPurpose(name, declared: policy.purposes.map(\.name))
        }
        guard purpose.lawfulBasis == .legitimateInterests || purpose.lawfulBasis == .publicTask else {
            throw ConsentError.notObjectable(purpose: name, basis: purpose.lawfulBasis.rawValue)
        }
        return ConsentRecord(purpose: name, status: .objected, lawfulBasis: purpose.lawfulBasis.rawValue, source: source,
                             effectiveAt: effectiveAt, evidence: evidence)
    }

    /// Records a decision for the person `identifier` names; a person not yet
    /// known becomes a new subject (consent can come before any event).
    /// - Returns: the subject and the event's log position.
    @discardableResult
    public func record(_ record: ConsentRecord, for identifier: Identifier) throws -> (subject: SubjectID, seq: Int64) {
        try vault.require(.manageConsent, for: .consentRecord, purpose: record.purpose)
        let graph = try vault.identityGraph()
        let ledger = try vault.consentLedger()
        let result = try vault.database.write { db in
            let resolution = try graph.resolve([identifier], at: record.effectiveAt, in: db)
            return (subject: resolution.subject, seq: try ledger.record(record, for: resolution.subject, in: db))
        }
        try vault.audit(.consentRecord, purpose: record.purpose, target: Vault.auditTarget(result.subject), rows: 1,
                        reason: record.status.rawValue)
        return result
    }

    /// The consent history of the person `identifier` names, or nil if unknown.
    public func report(for identifier: Identifier) throws -> ConsentReport? {
        try vault.require(.readConsent, for: .consentShow)
        let graph = try vault.identityGraph()
        let ledger = try vault.consentLedger()
        let report = try vault.database.read { db -> ConsentReport? in
            guard let subject = try graph.subject(for: identifier, in: db) else { return nil }
            let all = try graph.mergedSubjects(of: subject, in: db)
            return ConsentReport(subject: subject, merged: Array(all.dropFirst()), history: try ledger.history(of: subject, in: db))
        }
        if let report {
            try vault.audit(.consentShow, target: Vault.auditTarget(report.subject), rows: report.history.count)
        } else {
            try vault.audit(.consentShow, reason: "no subject has the \(identifier.type) identifier")
        }
        return report
    }
}
