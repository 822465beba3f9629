import CofferCrypto
import CofferProjection
package import CofferStore
import Foundation
import GRDB

/// The kinds of data-subject request Coffer handles.
package enum RequestType: String, CaseIterable, Sendable, Codable {
    /// Access and portability (GDPR Art. 15, 20).
    case export
    /// Erasure (Art. 17).
    case erase
    /// Restriction of processing (Art. 18), and its lifting.
    case restrict, lift
    /// Rectification (Art. 16).
    case rectify
}

/// Where a request stands.
package enum RequestStatus: String, Sendable, Codable {
    case open, completed, refused
}

/// One entry of the request register.
package struct RequestRecord: Sendable, Equatable {
    package var id: String
    package var type: RequestType
    /// The person's random subject id, when one was found.
    package var subject: SubjectID?
    package var receivedAt: Int64
    /// The legal deadline: one calendar month after receipt, plus extensions.
    package var dueAt: Int64
    /// Months the deadline was extended by (at most 2).
    package var extendedMonths: Int
    package var status: RequestStatus
    package var completedAt: Int64?
    /// The log event that records the outcome (tombstone, restriction, correction), if any.
    package var logSeq: Int64?
    /// The outcome and the reasons given (kept encrypted in the register).
    package var notes: [String]
    /// An erasure under way: what the no-trace check will look for and what was
    /// done so far (sealed with the notes; dropped when the request closes).
    var pendingErasure: PendingErasure? = nil

    /// Open past its deadline at `now`.
    package func isOverdue(at now: Int64) -> Bool { status == .open && now > dueAt }
}

/// The request register in the vault database (`requests` table). Ids, types,
/// dates and status are in clear; outcomes and reasons, which may describe the
/// person, are AES-256-GCM sealed under the register key.
package struct RequestRegister {
    private let database: DatabaseQueue
    private let key: SymmetricKey
    private static let aad = Array("coffer/v1/request-register".utf8)

    init(vault: Vault) throws {
        database = vault.database
        key = try vault.keys().requestRegister
    }

    /// `received` plus `months` calendar months (UTC), as GDPR counts them.
    package static func adding(months: Int, to millis: Int64) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        let due = calendar.date(byAdding: .month, value: months, to: date) ?? date.addingTimeInterval(Double(months) * 31 * 86_400)
        return Int64((due.timeIntervalSince1970 * 1000).rounded())
    }

    /// Registers a new open request and returns it (id `DSR-0001`, `DSR-0002`, …).
    func open(type: RequestType, subject: SubjectID?, receivedAt: Int64, note: String? = nil, in db: Database) throws -> RequestRecord {
        let last = try String.fetchOne(db, sql: "SELECT id FROM requests ORDER BY length(id) DESC, id DESC LIMIT 1")
        let number = (last.flatMap { Int($0.dropFirst(4)) } ?? 0) + 1
        let record = RequestRecord(id: String(format: "DSR-%04d", number), type: type, subject: subject, receivedAt: receivedAt,
                                   dueAt: Self.adding(months: 1, to: receivedAt), extendedMonths: 0, status: .open,
                                   completedAt: nil, logSeq: nil, notes: note.map { [$0] } ?? [])
        try save(record, insert: true, in: db)
        return record
    }

    /// Writes `record` (insert or update).
    func save(_ record: RequestRecord, insert: Bool = false, in db: Database) throws {
        // The notes alone (the format since the register began), or with an erasure under way.
        var plain = try record.pendingErasure.map { try JSONEncoder().encode(SealedDetails(notes: record.notes, erasure: $0)) }
            ?? JSONEncoder().encode(record.notes)
        defer { plain.resetBytes(in: 0..<plain.count) }
        let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
        let sealed = try AESGCM.seal(Array(plain), key: key, nonce: nonce, authenticating: Self.aad + Array(record.id.utf8))
        let arguments: StatementArguments = [record.type.rawValue, record.subject.map { Data($0.bytes) }, record.receivedAt, record.dueAt,
                                             record.extendedMonths, record.status.rawValue, record.completedAt, record.logSeq,
                                             Data(nonce), Data(sealed), record.id]
        if insert {
            try db.execute(sql: """
                INSERT INTO requests(type, subject_id, received_at, due_at, extended, status, completed_at, log_seq, nonce, details, id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: arguments)
        } else {
            try db.execute(sql: """
                UPDATE requests SET type = ?, subject_id = ?, received_at = ?, due_at = ?, extended = ?, status = ?, completed_at = ?,
                log_seq = ?, nonce = ?, details = ? WHERE id = ?
                """, arguments: arguments)
        }
    }

    /// The request `id`.
    /// - Throws: `RequestError.unknownRequest`.
    func record(_ id: String, in db: Database) throws -> RequestRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id.uppercased()]) else {
            throw RequestError.unknownRequest(id)
        }
        return try decode(row)
    }

    /// The request `id`, which must still be open.
    /// - Throws: `RequestError.unknownRequest`, `.closed`.
    func openRecord(_ id: String, in db: Database) throws -> RequestRecord {
        let record = try record(id, in: db)
        guard record.status == .open else { throw RequestError.closed(id: record.id, status: record.status.rawValue) }
        return record
    }

    /// Every request, oldest first.
    func all(in db: Database) throws -> [RequestRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM requests ORDER BY received_at, length(id), id").map(decode)
    }

    /// Every request, oldest first (read on its own).
    func all() throws -> [RequestRecord] {
        try database.read { try all(in: $0) }
    }

    private func decode(_ row: Row) throws -> RequestRecord {
        let id: String = row["id"]
        let nonce: Data = row["nonce"], sealed: Data = row["details"]
        let notes: [String]
        var erasure: PendingErasure?
        do {
            let plain = try AESGCM.open(Array(sealed), key: key, nonce: Array(nonce), authenticating: Self.aad + Array(id.utf8))
            if let list = try? JSONDecoder().decode([String].self, from: Data(plain)) {
                notes = list
            } else {
                let details = try JSONDecoder().decode(SealedDetails.self, from: Data(plain))
                (notes, erasure) = (details.notes, details.erasure)
            }
        } catch {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "request \(id) in the register does not decrypt (tampered?)")
        }
        let typeText: String = row["type"], statusText: String = row["status"]
        guard let type = RequestType(rawValue: typeText), let status = RequestStatus(rawValue: statusText) else {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "request \(id) has an unknown type or status")
        }
        let subject: Data? = row["subject_id"]
        return RequestRecord(id: id, type: type, subject: try subject.map { try SubjectID(bytes: Array($0)) },
                             receivedAt: row["received_at"], dueAt: row["due_at"], extendedMonths: row["extended"], status: status,
                             completedAt: row["completed_at"], logSeq: row["log_seq"], notes: notes, pendingErasure: erasure)
    }
}

/// A register entry's sealed part while an erasure is under way.
struct SealedDetails: Codable {
    var notes: [String]
    var erasure: PendingErasure
}

/// What an erasure keeps, sealed in its register entry, between its steps:
/// what the person's data looked like (for the no-trace check), and what the
/// purge and the shred did. A re-run with `--request` finishes from it.
struct PendingErasure: Codable, Equatable {
    var trace: RequestDesk.TraceMaterial
    var projections: [ProjectionPurge.Outcome] = []
    var purgeMillis = 0
    var shred: ShredReport?
    var shredMillis = 0
}
