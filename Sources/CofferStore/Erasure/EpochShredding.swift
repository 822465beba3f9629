import CofferCrypto
import Foundation
package import GRDB

/// One key epoch (one kind, one month) whose secret retention destroyed, or
/// would destroy: counts, never values.
public struct EpochShred: Sendable, Equatable, Codable {
    public var kind: String
    /// `2024-03`.
    public var month: String
    /// Subjects with events in the month.
    public var subjects: Int
    /// Events in the log sealed under the month's keys, unreadable from now on (left in place: the log is append-only).
    public var eventsUnreadable: Int

    public init(kind: String, month: String, subjects: Int, eventsUnreadable: Int) {
        (self.kind, self.month, self.subjects, self.eventsUnreadable) = (kind, month, subjects, eventsUnreadable)
    }
}

/// What moving a vault from before key epochs onto them did.
public struct LegacyReseal: Sendable, Equatable, Codable {
    /// Subjects that had a legacy key (all destroyed now).
    public var subjects: Int
    /// Events re-sealed under epoch or record keys (appended again, in their order).
    public var eventsResealed: Int
    /// Events already past retention: not re-sealed, so unreadable with their legacy key.
    public var eventsDropped: Int
    /// Where the re-sealed copies sit in the log (0, 0 when none).
    public var firstSeq: Int64, lastSeq: Int64

    public init(subjects: Int, eventsResealed: Int, eventsDropped: Int, firstSeq: Int64, lastSeq: Int64) {
        (self.subjects, self.eventsResealed, self.eventsDropped, self.firstSeq, self.lastSeq)
            = (subjects, eventsResealed, eventsDropped, firstSeq, lastSeq)
    }
}

extension Vault {
    /// Destroys the secret of every key epoch whose events are all past
    /// retention (`isExpired`), in one transaction: every subject's events of
    /// that kind and month become underivable, hence unreadable. The emptied
    /// row stays, so the month never gets a new secret. Then the WAL is
    /// truncated, so no page image of a secret stays in it. With `dryRun`, only
    /// counts. The log is not touched: it still verifies.
    ///
    /// - Parameter isExpired: whether every event an epoch can hold is past
    ///   retention (`RetentionCutoffs.isExpired`). Only `KeyEpoch.timedKinds` have epochs.
    public func shredExpiredEpochs(isExpired: (KeyEpoch) -> Bool, dryRun: Bool) throws -> [EpochShred] {
        let log = try eventLog()
        var expired: [KeyEpoch] = []
        let shreds = try database.write { db -> [EpochShred] in
            for version in try Int64.fetchAll(db, sql: "SELECT key_version FROM epoch_keys WHERE wrapped_key IS NOT NULL") {
                guard let epoch = KeyEpoch(version: UInt32(truncatingIfNeeded: version)), isExpired(epoch) else { continue }
                expired.append(epoch)
            }
            guard !expired.isEmpty else { return [] }
            expired.sort()
            let list = expired.map { _ in "?" }.joined(separator: ", ")
            let versions = StatementArguments(expired.map { Int64($0.version) })
            var counts: [Int64: (subjects: Int, events: Int)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT key_version, count(DISTINCT subject_id), count(*) FROM events WHERE key_version IN (\(list)) GROUP BY key_version
                """, arguments: versions) {
                counts[row[0]] = (row[1], row[2])
            }
            if !dryRun {
                try db.execute(sql: "UPDATE epoch_keys SET wrapped_key = NULL, destroyed_at = ? WHERE key_version IN (\(list))",
                               arguments: [EventLog.now()] + versions)
                try KeyDestructions.note(db)
            }
            return expired.map { epoch in
                let count = counts[Int64(epoch.version)] ?? (0, 0)
                return EpochShred(kind: epoch.kind.rawValue, month: epoch.monthLabel, subjects: count.subjects, eventsUnreadable: count.events)
            }
        }
        if !dryRun, !expired.isEmpty {
            log.forget(versions: Set(expired.map(\.version)))
            _ = try truncateWAL()
        }
        return shreds
    }

    /// The key epochs whose secrets retention destroyed: no event may be sealed in them again.
    package static func destroyedEpochs(in db: Database) throws -> Set<UInt32> {
        Set(try Int64.fetchAll(db, sql: "SELECT key_version FROM epoch_keys WHERE wrapped_key IS NULL").map { UInt32(truncatingIfNeeded: $0) })
    }

    /// Subjects that still have a legacy key (a vault from before key
    /// epochs), and the events sealed under those keys.
    public func legacyKeys() throws -> (subjects: Int, events: Int) {
        try database.read { db in
            let version = Int64(KeyEpoch.legacyVersion)
            let subjects = try Int.fetchOne(db, sql: "SELECT count(*) FROM keyring WHERE key_version = ?", arguments: [version]) ?? 0
            guard subjects > 0 else { return (0, 0) }
            return (subjects, try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE key_version = ?", arguments: [version]) ?? 0)
        }
    }

    /// Moves a vault from before key epochs onto them, in one transaction:
    /// every readable event under a legacy key is appended again, in log
    /// order, under its epoch or record key (the log is append-only, so the
    /// old row stays, and becomes unreadable); the consent state and merges are
    /// pointed at the copies; identifier values are re-sealed under the record
    /// key; then every legacy key is destroyed and the WAL truncated. An event
    /// `filing` gives no time for (past retention) is not copied, so it is shredded here.
    ///
    /// The copies are recorded as a re-seal range, which a projection's
    /// staleness check skips: they change no one's data.
    ///
    /// - Parameter filing: the time an event is filed under (`KeyEpoch.filingTime`), or nil to let it expire.
    public func resealLegacyKeys(filing: (StoredEvent) -> Int64?) throws -> LegacyReseal {
        let log = try eventLog()
        let graph = try identityGraph()
        let version = Int64(KeyEpoch.legacyVersion)
        let report = try database.write { db -> LegacyReseal in
            let subjects = try Data.fetchAll(db, sql: "SELECT subject_id FROM keyring WHERE key_version = ?", arguments: [version])
            var report = LegacyReseal(subjects: subjects.count, eventsResealed: 0, eventsDropped: 0, firstSeq: 0, lastSeq: 0)
            guard !subjects.isEmpty else { return report }
            var keys: [SubjectID: SymmetricKey?] = [:]
            var moved: [Int64: Int64] = [:]
            var after: Int64 = 0
            while true {
                let (events, last) = try log.legacyEvents(after: after, limit: 5_000, keys: &keys, in: db)
                guard let last else { break }
                after = last
                var copies: [NewEvent] = [], origins: [StoredEvent] = []
                for event in events {
                    guard let time = filing(event) else {
                        report.eventsDropped += 1
                        continue
                    }
                    copies.append(NewEvent(subject: event.subject, kind: event.kind, payload: event.payload,
                                           recordedAt: event.recordedAt, occurredAt: time))
                    origins.append(event)
                }
                guard !copies.isEmpty else { continue }
                let receipt = try log.append(copies, in: db)
                if report.firstSeq == 0 { report.firstSeq = receipt.firstSeq }
                report.lastSeq = receipt.lastSeq
                report.eventsResealed += copies.count
                for (index, origin) in origins.enumerated() where origin.kind == .consent || origin.kind == .merge {
                    moved[origin.seq] = receipt.firstSeq + Int64(index)
                }
            }
            // The consent state and merges name the log event that says so: the copy now.
            for row in try Row.fetchAll(db, sql: "SELECT subject_id, purpose, seq FROM consents") {
                guard let new = moved[row[2]] else { continue }
                try db.execute(sql: "UPDATE consents SET seq = ? WHERE subject_id = ? AND purpose = ?", arguments: [new, row[0] as Data, row[1] as String])
            }
            for row in try Row.fetchAll(db, sql: "SELECT absorbed_id, seq FROM merges") {
                guard let new = moved[row[1]] else { continue }
                try db.execute(sql: "UPDATE merges SET seq = ? WHERE absorbed_id = ?", arguments: [new, row[0] as Data])
            }
            // Re-sealing a subject's identifiers destroys its legacy key.
            for subject in subjects {
                try graph.resealLegacyIdentifiers(of: SubjectID(bytes: Array(subject)), in: db)
            }
            try KeyDestructions.note(db)
            if report.lastSeq > 0 { try ResealRange(first: report.firstSeq, last: report.lastSeq).save(db) }
            return report
        }
        if report.subjects > 0 {
            log.forget(versions: [KeyEpoch.legacyVersion])
            _ = try truncateWAL()
        }
        return report
    }
}

/// The log positions of the events the key-epoch migration appended again:
/// copies of events a projection already reflects, so they do not make it stale.
struct ResealRange {
    var first: Int64, last: Int64
    static let key = "reseal_range"

    static func load(_ db: Database) throws -> ResealRange? {
        guard let bytes = try VaultMeta.get(db, key) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "-").compactMap { Int64($0) }
        guard parts.count == 2 else { throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the meta row \(key) is damaged") }
        return ResealRange(first: parts[0], last: parts[1])
    }

    func save(_ db: Database) throws { try VaultMeta.set(db, Self.key, Array("\(first)-\(last)".utf8)) }
}

/// How many times keys were destroyed in this vault (erasures, retention
/// runs, the move onto key epochs), kept in `meta`: an event log whose key
/// caches were filled at another count empties them first, so a key cached
/// by one connection never outlives its destruction by another.
enum KeyDestructions {
    static let key = "key_destructions"

    static func count(_ db: Database) throws -> Int64 {
        try VaultMeta.get(db, key).flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
    }

    /// Counts one more destruction (inside the destroying transaction).
    static func note(_ db: Database) throws {
        try VaultMeta.set(db, key, Array(String(try count(db) + 1).utf8))
    }
}
