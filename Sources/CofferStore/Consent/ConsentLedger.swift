import CofferFormats
import Foundation
package import GRDB

/// A consent decision as the subject made it.
public enum ConsentStatus: String, Codable, Sendable, CaseIterable {
    case granted
    case withdrawn
    /// An objection (GDPR Art. 21) to processing that rests on legitimate
    /// interests (or a public task): the person is left out of that purpose.
    case objected
}

/// One consent event: what was decided, when, on what basis, from where, and
/// the evidence (which notice text the subject saw). Stored encrypted in the
/// log under the subject's key, so it is shredded with the subject.
public struct ConsentRecord: Codable, Sendable, Equatable {
    /// Always `consent`, so exported payloads say what they are.
    public var type = "consent"
    /// The policy purpose (e.g. `marketing`).
    public var purpose: String
    public var status: ConsentStatus
    /// The lawful basis recorded with the decision (normally `consent`).
    public var lawfulBasis: String
    /// Where the decision came from: `cli:ACTOR`, `csv:FILE`, `segment`.
    public var source: String
    /// When the subject decided, ms since 1970 UTC.
    public var effectiveAt: Int64
    /// When a grant lapses, if it does.
    public var expiresAt: Int64?
    /// Evidence: e.g. `noticeVersion`, `noticeSHA256`, `messageId`.
    public var evidence: [String: String]

    public init(purpose: String, status: ConsentStatus, lawfulBasis: String = "consent", source: String,
                effectiveAt: Int64, expiresAt: Int64? = nil, evidence: [String: String] = [:]) {
        self.purpose = purpose
        self.status = status
        self.lawfulBasis = lawfulBasis
        self.source = source
        self.effectiveAt = effectiveAt
        self.expiresAt = status == .granted ? expiresAt : nil
        self.evidence = evidence
    }

    /// The payload sealed into the log, written by the canonical writer as every event payload is.
    public func payload() throws -> [UInt8] {
        try CanonicalJSON.data(JSONReader.document(Array(JSONEncoder().encode(self))))
    }

    /// Parses a consent event's payload.
    public init(payload: [UInt8]) throws {
        do {
            self = try JSONDecoder().decode(ConsentRecord.self, from: Data(payload))
        } catch {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "a consent event's payload cannot be read (\(error))")
        }
    }
}

/// A decision that takes a person out of a purpose at once: a withdrawal of
/// consent, or an objection. Imports and commands report them, so the
/// projections already built can be purged without waiting for a rebuild.
public struct ConsentChange: Sendable, Hashable {
    public var subject: SubjectID
    public var purpose: String

    public init(subject: SubjectID, purpose: String) {
        self.subject = subject
        self.purpose = purpose
    }
}

/// A consent record with its place in the log.
public struct ConsentEntry: Sendable, Equatable {
    public var seq: Int64
    public var recordedAt: Int64
    public var subject: SubjectID
    public var record: ConsentRecord
}

/// What a subject's consent for one purpose was at some moment.
public enum ConsentState: Sendable, Equatable, CustomStringConvertible {
    /// No decision recorded before that moment.
    case none
    case granted(since: Int64, seq: Int64)
    case withdrawn(since: Int64, seq: Int64)
    /// Granted, but the grant had lapsed.
    case expired(at: Int64, seq: Int64)
    /// The person objected (Art. 21).
    case objected(since: Int64, seq: Int64)

    /// Whether processing on the basis of consent was allowed.
    public var allows: Bool {
        if case .granted = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .granted: return "granted"
        case .withdrawn: return "withdrawn"
        case .expired: return "expired"
        case .objected: return "objected"
        }
    }

    /// The state at `time` from a history: the latest decision effective at or
    /// before `time` (ties: the later log position), then its expiry.
    public static func at(_ time: Int64, purpose: String, in history: [ConsentEntry]) -> ConsentState {
        let decided = history
            .filter { $0.record.purpose == purpose && $0.record.effectiveAt <= time }
            .max { ($0.record.effectiveAt, $0.seq) < ($1.record.effectiveAt, $1.seq) }
        guard let decided else { return .none }
        switch decided.record.status {
        case .withdrawn:
            return .withdrawn(since: decided.record.effectiveAt, seq: decided.seq)
        case .objected:
            return .objected(since: decided.record.effectiveAt, seq: decided.seq)
        case .granted:
            if let expiry = decided.record.expiresAt, expiry <= time { return .expired(at: expiry, seq: decided.seq) }
            return .granted(since: decided.record.effectiveAt, seq: decided.seq)
        }
    }
}

/// The consent ledger: consent events in the log (the history, with evidence)
/// and the `consents` table (the latest decision per subject and purpose, for
/// fast filtering when projections are built).
///
/// Works inside the caller's write transaction, like the identity graph.
public final class ConsentLedger {
    private let log: EventLog
    private let identities: IdentityGraph

    init(log: EventLog, identities: IdentityGraph) {
        self.log = log
        self.identities = identities
    }

    /// Appends a consent event for `subject` and updates the current state.
    /// - Returns: the event's log position.
    @discardableResult
    package func record(_ record: ConsentRecord, for subject: SubjectID, recordedAt: Int64 = EventLog.now(),
                       in db: Database) throws -> Int64 {
        let receipt = try log.append([NewEvent(subject: subject, kind: .consent, payload: record.payload(), recordedAt: recordedAt)], in: db)
        try applied(record, subject: subject, seq: receipt.lastSeq, in: db)
        return receipt.lastSeq
    }

    /// Updates the current-state table for a consent event already appended at `seq`.
    /// A decision older than the one on record (a late-arriving event) changes nothing.
    package func applied(_ record: ConsentRecord, subject: SubjectID, seq: Int64, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO consents(subject_id, purpose, status, effective_at, expires_at, seq) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(subject_id, purpose) DO UPDATE SET
                status = excluded.status, effective_at = excluded.effective_at,
                expires_at = excluded.expires_at, seq = excluded.seq
            WHERE excluded.effective_at >= consents.effective_at
            """, arguments: [Data(subject.bytes), record.purpose, record.status.rawValue, record.effectiveAt,
                             record.expiresAt, seq])
    }

    /// The latest decision per purpose for `subject`, as the table holds it.
    package func current(of subject: SubjectID, in db: Database) throws -> [String: ConsentStatus] {
        var out: [String: ConsentStatus] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT purpose, status FROM consents WHERE subject_id = ?",
                                    arguments: [Data(subject.bytes)]) {
            out[row[0]] = ConsentStatus(rawValue: row[1])
        }
        return out
    }

    /// Moves `absorbed`'s current decisions to `survivor`, keeping the later one per purpose.
    package func merge(absorbed: SubjectID, into survivor: SubjectID, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO consents(subject_id, purpose, status, effective_at, expires_at, seq)
                SELECT ?, purpose, status, effective_at, expires_at, seq FROM consents WHERE subject_id = ?
            ON CONFLICT(subject_id, purpose) DO UPDATE SET
                status = excluded.status, effective_at = excluded.effective_at,
                expires_at = excluded.expires_at, seq = excluded.seq
            WHERE excluded.effective_at > consents.effective_at
               OR (excluded.effective_at = consents.effective_at AND excluded.seq > consents.seq)
            """, arguments: [Data(survivor.bytes), Data(absorbed.bytes)])
        try db.execute(sql: "DELETE FROM consents WHERE subject_id = ?", arguments: [Data(absorbed.bytes)])
    }

    /// Every consent event of the person (the subject and every subject merged
    /// into it), decrypted, ordered by when each decision took effect.
    package func history(of subject: SubjectID, in db: Database) throws -> [ConsentEntry] {
        let entries = try identities.events(ofPerson: subject, kinds: [.consent], in: db).map { event in
            ConsentEntry(seq: event.seq, recordedAt: event.recordedAt, subject: event.subject, record: try ConsentRecord(payload: event.payload))
        }
        return entries.sorted { ($0.record.effectiveAt, $0.seq) < ($1.record.effectiveAt, $1.seq) }
    }

    /// Subjects whose latest decision for `purpose` is an objection (Art. 21).
    package func subjectsObjecting(_ purpose: String, in db: Database) throws -> Set<SubjectID> {
        let rows = try Data.fetchAll(db, sql: "SELECT subject_id FROM consents WHERE purpose = ? AND status = 'objected'",
                                     arguments: [purpose])
        return Set(try rows.map { try SubjectID(bytes: Array($0)) })
    }

    /// Subjects whose latest decision for `purpose` is a grant in force at `time`.
    package func subjectsGranted(_ purpose: String, at time: Int64, in db: Database) throws -> Set<SubjectID> {
        try Self.subjectsGranted(purpose, at: time, in: db)
    }

    /// The same, from the current-state table alone (no key needed: an audience export
    /// checks it as the marketing role).
    package static func subjectsGranted(_ purpose: String, at time: Int64, in db: Database) throws -> Set<SubjectID> {
        let rows = try Data.fetchAll(db, sql: """
            SELECT subject_id FROM consents
            WHERE purpose = ? AND status = 'granted' AND (expires_at IS NULL OR expires_at > ?)
            """, arguments: [purpose, time])
        return Set(try rows.map { try SubjectID(bytes: Array($0)) })
    }
}

extension Vault {
    /// The consent ledger (needs the master key: it writes and reads the log).
    public func consentLedger() throws -> ConsentLedger {
        ConsentLedger(log: try eventLog(), identities: try identityGraph())
    }
}
