import CofferCrypto
import Foundation
package import GRDB

/// What identifies a record for dedup: a keyed hash of its messageId (or,
/// without one, of its normalised content), filed under the UTC day the event
/// happened.
public struct DedupKey: Sendable, Hashable {
    /// Days since 1970-01-01 (UTC) of the event; nil for what has no event time
    /// (rejected records, consent rows), which are filed before every day.
    public let day: Int64?
    /// HMAC-SHA256 under the vault's dedup key.
    public let hash: [UInt8]

    /// As stored: the day as 4 big-endian bytes (offset by 2^31 so days sort in
    /// time order; 0 for none), then the hash. Keys of one period therefore lie
    /// together at the end of the table instead of all over it.
    package var stored: [UInt8] {
        let prefix = day.map { UInt32(clamping: $0 + 0x8000_0000) } ?? 0
        return [UInt8(prefix >> 24), UInt8(truncatingIfNeeded: prefix >> 16), UInt8(truncatingIfNeeded: prefix >> 8),
                UInt8(truncatingIfNeeded: prefix)] + hash
    }
}

/// Recognises records already ingested: a record is a duplicate when a record
/// with the same messageId (or, without one, the same content) on the same
/// event day was ingested before.
///
/// Keys are stored day first (`dedup_days`), so each batch's inserts land
/// near the end of the B-tree: keyed hashes alone (`dedup`, before migration
/// v10) took every insert at a random place, and each batch dirtied pages all
/// over a table that grows with every event. `dedup` is kept as it was and
/// still consulted (read only) in a vault that has keys there, so a record
/// ingested before the migration is still recognised on any day.
public final class DedupIndex {
    /// Keyed with the vault's dedup key (`EventHasher` takes a copy for another thread).
    let hmac: HMACSHA256
    /// Whether the table of keys from before migration v10 holds any (looked up once).
    private var legacyKeys: Bool?

    /// The table (migration v10).
    static let schema = "CREATE TABLE dedup_days (key BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID;"

    init(keys: VaultKeys) throws {
        hmac = try HMACSHA256(key: keys.dedup)
    }

    /// The dedup key of a record; `occurredAt` (ms since 1970) is the event's time.
    public func key(messageID: String?, content: [UInt8], occurredAt: Int64?) throws -> DedupKey {
        try Self.key(messageID: messageID, content: content, occurredAt: occurredAt, using: hmac)
    }

    /// The dedup key under `hmac` (this index's context, or an `EventHasher`'s copy of it).
    static func key(messageID: String?, content: [UInt8], occurredAt: Int64?, using hmac: HMACSHA256) throws -> DedupKey {
        let day = occurredAt.map { $0 >= 0 ? $0 / 86_400_000 : ($0 + 1) / 86_400_000 - 1 }
        if let messageID, !messageID.isEmpty {
            return DedupKey(day: day, hash: try hmac.authenticate(Array("m:\(messageID)".utf8)))
        }
        return DedupKey(day: day, hash: try hmac.authenticate(Array("c:".utf8) + content))
    }

    /// Records `key`; `false` if it was already there (a duplicate).
    package func insert(_ key: DedupKey, in db: Database) throws -> Bool {
        if try isLegacy(key, in: db) { return false }
        let insert = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO dedup_days(key) VALUES (?)"))
        insert.reset()
        try insert.bind(1, blob: key.stored)
        _ = try insert.step("recording a dedup key")
        return db.changesCount > 0
    }

    /// Whether the key was recorded before migration v10 (keyed hash only).
    private func isLegacy(_ key: DedupKey, in db: Database) throws -> Bool {
        if legacyKeys == nil { legacyKeys = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM dedup)") ?? false }
        guard legacyKeys == true else { return false }
        let select = RawStatement(try db.cachedStatement(sql: "SELECT 1 FROM dedup WHERE key = ?"))
        select.reset()
        defer { select.reset() }
        try select.bind(1, blob: key.hash)
        return try select.step("looking up a dedup key")
    }
}
