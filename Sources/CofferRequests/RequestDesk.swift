import CofferCrypto
package import CofferPolicy
package import CofferProjection
package import CofferStore
import Foundation
import GRDB
import CofferFormats

extension AuditAction {
    package static let requestList = AuditAction(rawValue: "request-list")
    package static let requestOpen = AuditAction(rawValue: "request-open")
    package static let requestExport = AuditAction(rawValue: "request-export")
    package static let requestErase = AuditAction(rawValue: "request-erase")
    package static let requestRestrict = AuditAction(rawValue: "request-restrict")
    package static let requestLift = AuditAction(rawValue: "request-lift")
    package static let requestRectify = AuditAction(rawValue: "request-rectify")
    package static let requestExtend = AuditAction(rawValue: "request-extend")
    package static let requestRefuse = AuditAction(rawValue: "request-refuse")
    package static let requestReceipt = AuditAction(rawValue: "request-receipt")

    static func request(_ type: RequestType) -> AuditAction {
        switch type {
        case .export: return .requestExport
        case .erase: return .requestErase
        case .restrict: return .requestRestrict
        case .lift: return .requestLift
        case .rectify: return .requestRectify
        }
    }
}

/// Handles data-subject requests (GDPR Art. 15–18, 20) for the compliance role:
/// keeps the register with its legal deadlines, and carries out export,
/// erasure, restriction and rectification. Every call, allowed or refused, is
/// recorded in the audit ledger.
package final class RequestDesk {
    package let vault: Vault
    package let policy: Policy
    package let segments: [SegmentDefinition]
    /// The time the desk works at (tests move it).
    package var now: () -> Int64 = EventLog.now
    /// Fault injection for tests: called after each step of an erasure
    /// ("purged", "shredded") and may throw, as a crash there would stop it.
    var afterErasureStep: (String) throws -> Void = { _ in }
    /// Sends the remote deletes an erasure queued (`coffer publish`'s sync), before its receipt is
    /// signed, so that the receipt can say the copies are verified gone; nil: they stay pending.
    /// A failure leaves them pending and the erasure goes on.
    package var syncRemoteCopies: (() throws -> Void)?

    package init(vault: Vault, policy: Policy, segments: [SegmentDefinition]) {
        self.vault = vault
        self.policy = policy
        self.segments = segments
    }

    /// The register (compliance only; audited).
    func register(for action: AuditAction, target: String? = nil) throws -> RequestRegister {
        if vault.role == .owner, policy.controller.ownerActsAsDPO {
            // The policy lets the owner act as DPO: allowed, and said so in the trail.
            try vault.audit(action, target: target, reason: "the owner acts as DPO, as policy '\(policy.name)' allows")
        } else {
            try vault.require(.handleRequests, for: action, target: target)
        }
        try vault.usePolicy(sha256: policy.sha256, name: policy.name)
        return try RequestRegister(vault: vault)
    }

    // MARK: Register

    /// Every request, oldest first.
    package func list() throws -> [RequestRecord] {
        let register = try register(for: .requestList)
        let records = try register.all()
        try vault.audit(.requestList, rows: records.count)
        return records
    }

    /// The person each request is about, as the DPO knows them: one of their
    /// identifiers (email, else phone, else user id, else any), "(erased)"
    /// once their keys are gone, nil for a request registered for nobody.
    /// Reading identifiers is audited (one entry, the number of people named).
    package func people(of records: [RequestRecord]) throws -> [String: String] {
        _ = try register(for: .requestList)
        let graph = try vault.identityGraph()
        let preference: [IdentifierType] = [.email, .phone, .userID]
        var out: [String: String] = [:]
        try vault.database.read { db in
            for record in records {
                guard let subject = record.subject else { continue }
                let identifiers = try graph.identifiers(of: subject, in: db)
                let best = preference.lazy.compactMap { type in identifiers.first { $0.type == type } }.first ?? identifiers.first
                out[record.id] = best?.description ?? "(erased)"
            }
        }
        try vault.audit(.requestList, rows: out.count, reason: "identifiers of the people requests are about")
        return out
    }

    /// Registers a request received now (or at `receivedAt`) to be handled later;
    /// `--request ID` then completes it.
    package func open(_ type: RequestType, subject identifier: Identifier, receivedAt: Int64? = nil, note: String? = nil) throws -> RequestRecord {
        let register = try register(for: .requestOpen)
        let subject = try lookUp(identifier)
        let record = try vault.database.write { db in
            try register.open(type: type, subject: subject, receivedAt: receivedAt ?? now(), note: note.map { "received: \($0)" }, in: db)
        }
        try vault.audit(.requestOpen, target: subject.map(Vault.auditTarget), reason: "\(record.id) \(type.rawValue)")
        return record
    }

    /// Extends the deadline of an open request by `months` (1 or 2, at most 2 in
    /// total, GDPR Art. 12(3)); the reason is kept for the data subject.
    package func extend(_ id: String, months: Int, reason: String) throws -> RequestRecord {
        let register = try register(for: .requestExtend)
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw RequestError.reasonRequired }
        let time = now()
        let (record, overdueSince) = try vault.database.write { db -> (RequestRecord, Int64?) in
            var record = try register.openRecord(id, in: db)
            guard (1...2).contains(months), record.extendedMonths + months <= 2 else { throw RequestError.extensionLimit(id: record.id) }
            // Art. 12(3): the extension is to be decided within the time it extends; one made later is noted as such.
            let overdueSince = record.isOverdue(at: time) ? record.dueAt : nil
            record.extendedMonths += months
            record.dueAt = RequestRegister.adding(months: 1 + record.extendedMonths, to: record.receivedAt)
            record.notes.append("extended by \(months) month\(months == 1 ? "" : "s")"
                + (overdueSince.map { " after its due date (\(Timestamp.format($0).prefix(10)))" } ?? "") + ": \(reason)")
            try register.save(record, in: db)
            return (record, overdueSince)
        }
        try vault.audit(.requestExtend, target: record.subject.map(Vault.auditTarget),
                        reason: "\(record.id) +\(months) month(s)" + (overdueSince.map { _ in "; OVERDUE when extended" } ?? ""))
        return record
    }

    /// Whether `record` was past its due date when it was last extended (from its notes).
    package static func wasExtendedOverdue(_ record: RequestRecord) -> Bool {
        record.notes.last { $0.hasPrefix("extended by") }?.contains("after its due date") == true
    }

    /// Refuses an open request (e.g. manifestly unfounded, identity not
    /// verified), with the reason given to the data subject.
    package func refuse(_ id: String, reason: String) throws -> RequestRecord {
        let register = try register(for: .requestRefuse)
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw RequestError.reasonRequired }
        let record = try vault.database.write { db in
            try complete(register.openRecord(id, in: db), as: .refused, outcome: "refused: \(reason)", logSeq: nil, register: register, in: db)
        }
        try vault.audit(.requestRefuse, target: record.subject.map(Vault.auditTarget), reason: record.id)
        return record
    }

    // MARK: Shared steps

    func lookUp(_ identifier: Identifier) throws -> SubjectID? {
        let graph = try vault.identityGraph()
        return try vault.database.read { try graph.subject(for: identifier, in: $0) }
    }

    /// Checks the permission, finds the person, and takes the register entry:
    /// the open request `requestID` (which must match) or a new one.
    func begin(_ type: RequestType, _ identifier: Identifier, request requestID: String?, receivedAt: Int64?,
               requireSubject: Bool = true) throws -> (RequestRegister, SubjectID?, RequestRecord) {
        let action = AuditAction.request(type)
        let register = try register(for: action)
        let subject = try lookUp(identifier)
        if subject == nil && requireSubject {
            try vault.audit(action, reason: "no subject has the \(identifier.type) identifier")
            throw RequestError.unknownSubject(identifier.description)
        }
        let record = try vault.database.write { db -> RequestRecord in
            guard let requestID else {
                return try register.open(type: type, subject: subject, receivedAt: receivedAt ?? now(), in: db)
            }
            var record = try register.openRecord(requestID, in: db)
            guard record.type == type else { throw RequestError.wrongType(id: record.id, type: record.type.rawValue, expected: type.rawValue) }
            if let known = record.subject, known != subject { throw RequestError.otherSubject(id: record.id) }
            record.subject = subject
            try register.save(record, in: db)
            return record
        }
        return (register, subject, record)
    }

    /// Closes `record` (completed, or refused) with `outcome`, inside the caller's transaction.
    func complete(_ record: RequestRecord, as status: RequestStatus = .completed, outcome: String, logSeq: Int64?,
                  register: RequestRegister, in db: Database) throws -> RequestRecord {
        var record = record
        record.status = status
        record.completedAt = now()
        record.logSeq = logSeq
        record.notes.append(outcome)
        try register.save(record, in: db)
        return record
    }

    // MARK: Restriction and rectification

    /// Restricts processing (Art. 18): the person stays in the vault but is taken
    /// out of every projection now and left out of every build until lifted.
    package func restrict(subject identifier: Identifier, request: String? = nil, receivedAt: Int64? = nil,
                         reason: String? = nil) throws -> (record: RequestRecord, projections: [ProjectionPurge.Outcome]) {
        let (register, found, record) = try begin(.restrict, identifier, request: request, receivedAt: receivedAt)
        let subject = found!
        let profile = try PersonProfile.load(subject, vault: vault, policy: policy, segments: [], now: now())
        let log = try vault.eventLog()
        let done = try vault.database.write { db -> RequestRecord in
            try Restrictions.restrict(subject, request: record.id, at: now(), in: db)
            var fields = ["type": "restrict", "status": "restricted", "request": record.id, "timestamp": Timestamp.format(now())]
            if let reason { fields["reason"] = reason }
            let payload = try CanonicalJSON.data(fields)
            let receipt = try log.append([NewEvent(subject: subject, kind: .restrict, payload: payload)], in: db)
            return try complete(record, outcome: "restricted", logSeq: receipt.lastSeq, register: register, in: db)
        }
        let outcomes = try ProjectionPurge.remove(customerKey: profile.customerKey, vault: vault, policy: policy,
                                                  reconciled: done.logSeq ?? vault.logHead())
        try vault.audit(.requestRestrict, target: Vault.auditTarget(subject), rows: outcomes.map(\.rowsRemoved).reduce(0, +),
                        reason: done.id)
        return (done, outcomes)
    }

    /// Lifts a restriction: the next `project build` includes the person again.
    package func lift(subject identifier: Identifier, request: String? = nil, receivedAt: Int64? = nil) throws -> RequestRecord {
        let (register, found, record) = try begin(.lift, identifier, request: request, receivedAt: receivedAt)
        let subject = found!
        let log = try vault.eventLog()
        let done = try vault.database.write { db -> RequestRecord in
            guard let since = try Restrictions.restriction(of: subject, in: db) else {
                // Nothing to lift: the request is answered as refused, with the reason.
                return try complete(record, as: .refused, outcome: "refused: processing is not restricted; nothing to lift",
                                    logSeq: nil, register: register, in: db)
            }
            try Restrictions.lift(subject, in: db)
            let payload = try CanonicalJSON.data(["type": "restrict", "status": "lifted", "request": record.id, "restricted_by": since,
                                                  "timestamp": Timestamp.format(now())])
            let receipt = try log.append([NewEvent(subject: subject, kind: .restrict, payload: payload)], in: db)
            return try complete(record, outcome: "restriction \(since) lifted", logSeq: receipt.lastSeq, register: register, in: db)
        }
        guard done.status == .completed else {
            try vault.audit(.requestLift, target: Vault.auditTarget(subject), reason: "\(done.id): not restricted")
            throw RequestError.notRestricted(identifier.description)
        }
        try vault.audit(.requestLift, target: Vault.auditTarget(subject), reason: done.id)
        return done
    }

    /// The view's identifier fields, by every name: a rectification may not set them.
    static let identifierFields = Set(["user_id", "userId"] + SingleViewColumn.all
        .filter { !$0.rectifiable && !$0.sourceKeys.isEmpty }.flatMap { [$0.name] + $0.sourceKeys })

    /// Parses `field=value` corrections, keyed by the trait each one sets.
    package static func corrections(_ settings: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw RequestError.invalidCorrection("'\(setting)' is not FIELD=VALUE (e.g. --set last_name=Smith)")
            }
            let field = String(setting[..<equals]).trimmingCharacters(in: .whitespaces)
            let value = String(setting[setting.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if Self.identifierFields.contains(field) {
                throw RequestError.invalidCorrection("\(field) is an identifier, which links records to the person; correct it by "
                    + "ingesting an identify event with the right value (the old one can then be erased)")
            }
            guard let column = SingleViewColumn.rectifiableByName[field], let name = column.rectifiedTrait else {
                throw RequestError.invalidCorrection("'\(field)' cannot be rectified; fields: "
                    + SingleViewColumn.all.filter(\.rectifiable).map(\.name).sorted().joined(separator: ", "))
            }
            if column.type != .text {
                guard Double(value)?.isFinite == true else {
                    throw RequestError.invalidCorrection("\(field) must be a number, not '\(value)'")
                }
                // The same ranges ingest checks: a correction cannot store what an event could not.
                let limit = NumericLimit.defaults.first { $0.field == "traits.\(name)" }
                if let reason = limit?.check(Double(value) ?? .nan, at: field) {
                    throw RequestError.invalidCorrection("\(field): " + reason)
                }
            }
            if column.unit == .date, Timestamp.parse(value + "T00:00:00Z") == nil {
                throw RequestError.invalidCorrection("\(column.name) must be a date like 1990-04-17")
            }
            out[name] = value
        }
        guard !out.isEmpty else { throw RequestError.invalidCorrection("give at least one correction with --set FIELD=VALUE") }
        return out
    }

    /// Rectification (Art. 16): appends a correction event; the next
    /// `project build` applies it (it is the latest value of each field).
    package func rectify(subject identifier: Identifier, set corrections: [String: String], request: String? = nil,
                        receivedAt: Int64? = nil) throws -> RequestRecord {
        let (register, found, record) = try begin(.rectify, identifier, request: request, receivedAt: receivedAt)
        let subject = found!
        let log = try vault.eventLog()
        var traits: [String: Any] = [:]
        for (name, value) in corrections {
            if SingleViewColumn.rectifiableByName[name]?.type != .text, let number = Double(value) {
                traits[name] = number == number.rounded() && abs(number) < 1e15 ? Int(number) as Any : number as Any
            } else {
                traits[name] = value
            }
        }
        let payload = try CanonicalJSON.data([
            "type": "rectify", "request": record.id, "timestamp": Timestamp.format(now()), "traits": traits,
        ] as [String: Any])
        let done = try vault.database.write { db -> RequestRecord in
            let receipt = try log.append([NewEvent(subject: subject, kind: .rectify, payload: payload)], in: db)
            return try complete(record, outcome: "rectified: \(corrections.keys.sorted().joined(separator: ", "))",
                                logSeq: receipt.lastSeq, register: register, in: db)
        }
        try vault.audit(.requestRectify, target: Vault.auditTarget(subject), rows: corrections.count, reason: done.id)
        return done
    }
}
