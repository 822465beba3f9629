import Foundation
package import GRDB

/// Restriction of processing (GDPR Art. 18) and the suppression list of erased
/// identifiers: the rows that keep a person out of projections and imports.
public enum Restrictions {
    /// Restricts `subject` under request `request`; `false` if it already was.
    @discardableResult
    package static func restrict(_ subject: SubjectID, request: String, at time: Int64, in db: Database) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO restrictions(subject_id, request_id, since) VALUES (?, ?, ?)",
                       arguments: [Data(subject.bytes), request, time])
        return db.changesCount > 0
    }

    /// Lifts the restriction of `subject`; `false` if it was not restricted.
    @discardableResult
    package static func lift(_ subject: SubjectID, in db: Database) throws -> Bool {
        try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = ?", arguments: [Data(subject.bytes)])
        return db.changesCount > 0
    }

    /// The request that restricted `subject`, if it is restricted.
    package static func restriction(of subject: SubjectID, in db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT request_id FROM restrictions WHERE subject_id = ?", arguments: [Data(subject.bytes)])
    }

    /// Every restricted subject.
    package static func restricted(in db: Database) throws -> Set<SubjectID> {
        Set(try Data.fetchAll(db, sql: "SELECT subject_id FROM restrictions").map { try SubjectID(bytes: Array($0)) })
    }

    /// The log position of the latest erasure or restriction change (0 if none):
    /// a projection file must be reconciled through it (built after it, or
    /// purged for it) to be read. From the signed log, through a partial index.
    /// The key-epoch migration's copies of older changes do not count (`ResealRange`).
    package static func latestPurgingEvent(in db: Database) throws -> Int64 {
        let range = try ResealRange.load(db) ?? ResealRange(first: 1, last: 0)
        return try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events WHERE kind IN ('erase', 'restrict') AND (seq < ? OR seq > ?)",
                                  arguments: [range.first, range.last]) ?? 0
    }

    /// Every subject an erasure crypto-shredded.
    package static func erased(in db: Database) throws -> Set<SubjectID> {
        Set(try Data.fetchAll(db, sql: "SELECT subject_id FROM erasures").map { try SubjectID(bytes: Array($0)) })
    }

    /// A merge keeps a restriction: the survivor is restricted if the absorbed subject was.
    static func merge(absorbed: SubjectID, into survivor: SubjectID, in db: Database) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO restrictions(subject_id, request_id, since)
            SELECT ?, request_id, since FROM restrictions WHERE subject_id = ?
            """, arguments: [Data(survivor.bytes), Data(absorbed.bytes)])
        try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = ?", arguments: [Data(absorbed.bytes)])
    }

    /// Whether any identifier token is on the suppression list at all (a cheap
    /// check that lets imports skip per-record lookups when the list is empty).
    package static func suppressing(in db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM suppressions)") ?? false
    }

    /// Whether `token` is on the suppression list.
    static func isSuppressed(token: [UInt8], in db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM suppressions WHERE token = ?)", arguments: [Data(token)]) ?? false
    }
}

extension IdentityGraph {
    /// Whether one of `identifiers` was erased and put on the suppression list.
    package func isSuppressed(_ identifiers: [Identifier], in db: Database) throws -> Bool {
        for identifier in identifiers where try Restrictions.isSuppressed(token: token(identifier), in: db) { return true }
        return false
    }
}
