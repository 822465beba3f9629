import CofferCrypto
import CofferFormats
import Foundation
package import GRDB

/// What crypto-shredding one person removed.
public struct ShredReport: Sendable, Equatable, Codable {
    /// The person's subject ids (the survivor first, then those merged into it).
    public var subjects: [String]
    /// Subject data keys destroyed: every event sealed under them is now unreadable.
    public var keysDestroyed: Int
    /// Events in the log sealed under those keys (left in place: the log is append-only).
    public var eventsUnreadable: Int
    /// Identity, merge, consent-state and restriction rows deleted.
    public var identityRows: Int
    public var mergeRows: Int
    public var consentRows: Int
    public var restrictionRows: Int
    /// Quarantined input records that named the person, deleted.
    public var quarantinedRecords: Int
    /// Identifier tokens put on the suppression list (0 unless the policy asks).
    public var suppressedTokens: Int
    /// Log position of the tombstone event.
    public var tombstoneSeq: Int64
    /// Whether the WAL could be checkpointed and truncated (vault and audit ledger).
    public var walTruncated: Bool
}

extension ShredReport {
    /// What erasing an identifier nobody has destroys: nothing.
    public static func nothing(tombstoneSeq: Int64) -> ShredReport {
        ShredReport(subjects: [], keysDestroyed: 0, eventsUnreadable: 0, identityRows: 0, mergeRows: 0, consentRows: 0,
                    restrictionRows: 0, quarantinedRecords: 0, suppressedTokens: 0, tombstoneSeq: tombstoneSeq, walTruncated: false)
    }
}

extension Vault {
    /// Crypto-shreds the person `subject` (with every subject merged into it), in
    /// one transaction: destroys their data keys (so their events, identifiers
    /// and consent history in the log can never be decrypted again), deletes
    /// their identity, merge, consent-state and restriction rows and the
    /// quarantined records `quarantined` (found by the caller to name them), optionally lists their
    /// identifier tokens for suppression, and appends a tombstone event that holds
    /// no personal data (under a fresh random subject id of its own). Then the
    /// WAL of the vault and of the audit ledger is checkpointed and truncated, so
    /// no old page image of a deleted row stays in a `-wal` file.
    ///
    /// The log is not rewritten: its chain and checkpoints still verify.
    /// `secure_delete` overwrites the deleted rows in the database file.
    ///
    /// - Parameters:
    ///   - quarantined: ids of quarantined records that are the person's.
    ///   - request: the request id the tombstone and suppression rows name.
    ///   - alsoInTransaction: runs inside the shred's transaction with its report
    ///     (the request desk records there that the shred happened, so an
    ///     interrupted erasure can be completed).
    package func shred(person subject: SubjectID, request: String, suppress: Bool, quarantined: [Int64],
                      alsoInTransaction: ((Database, ShredReport) throws -> Void)? = nil) throws -> ShredReport {
        let log = try eventLog()
        let graph = try identityGraph()
        let quarantine = try quarantine()
        var report = try database.write { db -> ShredReport in
            let family = try graph.mergedSubjects(of: subject, in: db)
            let ids = family.map { Data($0.bytes) }
            let list = ids.map { _ in "?" }.joined(separator: ", ")
            let arguments = StatementArguments(ids)
            func delete(_ sql: String, _ extra: StatementArguments = []) throws -> Int {
                try db.execute(sql: sql, arguments: arguments + extra)
                return db.changesCount
            }
            // Their events stay in the append-only log, unreadable once the keys go, and leave the index.
            let events = try SubjectIndex.remove(family, in: db)
            let tokens = try Data.fetchAll(db, sql: "SELECT token FROM identities WHERE subject_id IN (\(list))", arguments: arguments)
            var suppressed = 0
            if suppress {
                for token in tokens {
                    try db.execute(sql: "INSERT OR IGNORE INTO suppressions(token, request_id, since) VALUES (?, ?, ?)",
                                   arguments: [token, request, EventLog.now()])
                    suppressed += db.changesCount
                }
            }
            var removedQuarantine = 0
            for id in quarantined {
                try quarantine.remove(id: id, in: db)
                removedQuarantine += db.changesCount
            }
            let keys = try delete("DELETE FROM keyring WHERE subject_id IN (\(list))")
            try KeyDestructions.note(db)
            let identities = try delete("DELETE FROM identities WHERE subject_id IN (\(list))")
            let merges = try delete("DELETE FROM merges WHERE absorbed_id IN (\(list)) OR survivor_id IN (\(list))", arguments)
            let consents = try delete("DELETE FROM consents WHERE subject_id IN (\(list))")
            let restrictions = try delete("DELETE FROM restrictions WHERE subject_id IN (\(list))")
            // Channel opt-outs and sends name the person's random ids only, but are about them: gone too.
            _ = try delete("DELETE FROM channel_opt_outs WHERE subject_id IN (\(list))")
            _ = try delete("DELETE FROM activation_sends WHERE subject_id IN (\(list))")
            _ = try delete("DELETE FROM campaign_assignments WHERE subject_id IN (\(list))")
            // Remembered (random ids only, sealed): a build never includes them again, even if a key came back.
            for id in ids {
                try db.execute(sql: "INSERT OR IGNORE INTO erasures(subject_id, request_id, at) VALUES (?, ?, ?)",
                               arguments: [id, request, EventLog.now()])
            }
            let fields = ["type": "erase", "request": request, "subjects": family.map(\.hex).joined(separator: ","),
                          "keys_destroyed": String(keys), "events_unreadable": String(events)]
            let payload = try CanonicalJSON.data(fields)
            let receipt = try log.append([NewEvent(subject: SubjectID.random(), kind: .erase, payload: payload)], in: db)
            let report = ShredReport(subjects: family.map(\.hex), keysDestroyed: keys, eventsUnreadable: events, identityRows: identities,
                                     mergeRows: merges, consentRows: consents, restrictionRows: restrictions,
                                     quarantinedRecords: removedQuarantine, suppressedTokens: suppressed, tombstoneSeq: receipt.lastSeq,
                                     walTruncated: false)
            try alsoInTransaction?(db, report)
            return report
        }
        log.forget(report.subjects.compactMap(SubjectID.init(hex:)))
        report.walTruncated = try truncateWAL()
        return report
    }

    /// Checkpoints the vault's and the audit ledger's WAL into their databases
    /// and truncates the `-wal` files to zero bytes. `false` when another
    /// connection kept a checkpoint from completing.
    public func truncateWAL() throws -> Bool {
        var complete = true
        for queue in [database, try auditLedger().queue] {
            let done = try queue.writeWithoutTransaction { db -> Bool in
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return (row?[0] as Int64? ?? 1) == 0
            }
            complete = complete && done
        }
        return complete
    }

    /// The schema text of the vault and audit databases, which SQLite keeps in
    /// clear (table and column names, comments): not data, but words a value
    /// can equal by chance.
    public func schemaText() throws -> String {
        var parts: [String] = []
        for queue in [database, try auditLedger().queue] {
            parts += try queue.read { try String.fetchAll($0, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL") }
        }
        return parts.joined(separator: "\n")
    }
}

extension Array where Element == UInt8 {
    /// Whether the byte string `needle` occurs in these bytes (memchr and memcmp).
    package func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= count else { return false }
        return withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                // memchr for the first byte, memcmp for the rest (Glibc does not export memmem to Swift).
                let base = hay.baseAddress!, first = Int32(pin[0]), end = hay.count - pin.count
                var offset = 0
                while offset <= end, let hit = memchr(base + offset, first, end - offset + 1) {
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at, pin.baseAddress!, pin.count) == 0 { return true }
                    offset = at + 1
                }
                return false
            }
        }
    }
}
