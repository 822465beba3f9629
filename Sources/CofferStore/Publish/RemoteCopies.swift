import CofferCrypto
import Foundation
package import GRDB

/// A purpose's projection as published to a remote store (`coffer publish`):
/// which shards hold it, for which role it was transformed, and when.
public struct RemoteCopy: Sendable, Equatable {
    /// `purpose|role|database|shard URL…`: one copy per place a projection is published to.
    public var id: String
    public var purpose: String
    public var role: String
    public var database: String
    /// The cluster name the `Distributed` tables use (nil with one shard).
    public var cluster: String?
    /// The shards' base URLs (no credentials), in the cluster's shard order.
    public var shards: [String]
    /// When it was last published (ms), and the log position its projection was built through.
    public var publishedAt: Int64
    public var lastSeq: Int64
    /// Seconds ClickHouse keeps a replaced part on disk (`old_parts_lifetime`, set on every table).
    public var partsLifetime: Int
    /// A publish under way since then (ms), or cut off: deletes wait for it, the next publish rewrites the copy.
    public var publishingSince: Int64?

    public init(purpose: String, role: String, database: String, cluster: String?, shards: [String], publishedAt: Int64,
                lastSeq: Int64, partsLifetime: Int) {
        id = ([purpose, role, database] + shards).joined(separator: "|")
        self.purpose = purpose
        self.role = role
        self.database = database
        self.cluster = cluster
        self.shards = shards
        self.publishedAt = publishedAt
        self.lastSeq = lastSeq
        self.partsLifetime = partsLifetime
    }
}

/// Why a remote copy must forget someone.
public enum RemoteDeleteReason: String, Sendable, CaseIterable {
    case erasure
    case restriction
    case withdrawal
    case objection
    /// Their consent lapsed, or they left the projection for another reason (a merge, no data left).
    case departure
    /// A retention run destroyed events the copy was built from: the whole copy must be published again.
    case retention
}

/// One delete a remote copy is owed: queued in the vault (sealed) when the
/// person is erased, restricted or withdraws, sent by `publish sync` (and every
/// `publish`) until every shard confirms it.
public struct RemoteDelete: Sendable, Equatable {
    public var id: Int64
    public var copyID: String
    /// The person's `customer_id` in the copy; nil once verified gone (nothing of them is kept after),
    /// and for a copy-wide retention entry.
    public var customerID: String?
    public var reason: RemoteDeleteReason
    /// The data-subject request that caused it (erasure, restriction).
    public var requestID: String?
    public var queuedAt: Int64
    public var attempts: Int
    public var lastError: String?
    /// When every shard showed 0 rows of the person (ms), and when ClickHouse's old parts holding them are gone.
    public var verifiedAt: Int64?
    public var removalDueAt: Int64?

    public var isPending: Bool { verifiedAt == nil }
}

/// What the vault remembers of one published person: their `customer_id` in the copy and a digest of their rows there.
package struct PublishedPerson: Sendable, Equatable {
    package var customerID: String
    package var digest: [UInt8]

    package init(customerID: String, digest: [UInt8]) {
        self.customerID = customerID
        self.digest = digest
    }
}

/// The vault's record of its published copies, who is in each, and the
/// deletes they are owed. The three tables are sealed (`StateSeals`): a row
/// removed from `published_people` or `remote_deletes` outside Coffer would
/// let an erasure miss a copy, and is caught like a changed consent.
///
/// Erasures, restrictions, withdrawals and objections queue their deletes by
/// trigger, in the transaction that records them, whichever command or import
/// records them.
package enum RemoteCopies {
    /// The sealed tables' names: `publish`, `publish sync` and `publish status` check their seals before trusting them.
    package static var sealedTableNames: [String] { sealedTables.map(\.name) }

    static let sealedTables: [(name: String, columns: [String])] = [
        ("published_copies", ["copy_id", "purpose", "role", "database", "shards"]),
        ("published_people", ["copy_id", "subject_id", "customer_id", "digest"]),
        ("remote_deletes", ["id", "copy_id", "customer_id", "reason", "request_id", "queued_at", "verified_at"]),
    ]

    /// The current time in ms, in SQL.
    private static let sqlNow = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

    static func migrate(_ db: Database, key: SymmetricKey) throws {
        try db.execute(sql: """
            -- Projections published to remote stores (`coffer publish`), one row per destination.
            CREATE TABLE published_copies (
                copy_id         TEXT PRIMARY KEY NOT NULL,   -- purpose|role|database|shard URLs
                purpose         TEXT NOT NULL,
                role            TEXT NOT NULL,
                database        TEXT NOT NULL,
                cluster         TEXT,
                shards          TEXT NOT NULL,               -- base URLs, one a line, no credentials
                published_at    INTEGER NOT NULL,            -- ms
                last_seq        INTEGER NOT NULL,
                parts_lifetime  INTEGER NOT NULL,            -- s: old_parts_lifetime on the remote tables
                publishing_since INTEGER                     -- ms: a publish under way (or killed): the next one rewrites the copy
            ) WITHOUT ROWID;

            -- Who each copy holds (the survivor subject id), under which customer_id, and a digest of their rows.
            CREATE TABLE published_people (
                copy_id      TEXT NOT NULL,
                subject_id   BLOB NOT NULL,
                customer_id  TEXT NOT NULL,
                digest       BLOB NOT NULL,
                PRIMARY KEY (copy_id, subject_id)
            ) WITHOUT ROWID;
            CREATE INDEX published_people_by_subject ON published_people(subject_id);

            -- Deletes owed to remote copies, kept until every shard shows the person gone.
            CREATE TABLE remote_deletes (
                id              INTEGER PRIMARY KEY,
                copy_id         TEXT NOT NULL,
                customer_id     TEXT,                        -- NULL once verified (and for a copy-wide entry)
                reason          TEXT NOT NULL,               -- erasure | restriction | withdrawal | objection | departure | retention
                request_id      TEXT,
                queued_at       INTEGER NOT NULL,            -- ms
                attempts        INTEGER NOT NULL DEFAULT 0,
                last_error      TEXT,
                verified_at     INTEGER,                     -- ms: 0 rows on every shard
                removal_due_at  INTEGER                      -- ms: verified + old_parts_lifetime
            );
            CREATE INDEX remote_deletes_pending ON remote_deletes(copy_id) WHERE verified_at IS NULL;
            CREATE INDEX remote_deletes_by_request ON remote_deletes(request_id) WHERE request_id IS NOT NULL;
            """)
        try StateSeals.seal(sealedTables, key: key, in: db)
        // The deletes owed when someone leaves every copy (erasure, restriction) or a purpose's copies.
        func queue(_ reason: String, request: String, purposeFilter: String = "") -> String {
            """
            INSERT INTO remote_deletes(copy_id, customer_id, reason, request_id, queued_at)
                SELECT copy_id, customer_id, \(reason), \(request), \(sqlNow) FROM published_people
                WHERE subject_id = NEW.subject_id\(purposeFilter);
            DELETE FROM published_people WHERE subject_id = NEW.subject_id\(purposeFilter);
            """
        }
        let ofPurpose = " AND copy_id IN (SELECT copy_id FROM published_copies WHERE purpose = NEW.purpose)"
        let consentReason = "CASE NEW.status WHEN 'withdrawn' THEN 'withdrawal' ELSE 'objection' END"
        try db.execute(sql: """
            CREATE TRIGGER erasures_remote_delete AFTER INSERT ON erasures BEGIN
                \(queue("'erasure'", request: "NEW.request_id"))
            END;
            CREATE TRIGGER restrictions_remote_delete AFTER INSERT ON restrictions BEGIN
                \(queue("'restriction'", request: "NEW.request_id"))
            END;
            CREATE TRIGGER consents_remote_delete_insert AFTER INSERT ON consents
                WHEN NEW.status IN ('withdrawn', 'objected') BEGIN
                \(queue(consentReason, request: "NULL", purposeFilter: ofPurpose))
            END;
            CREATE TRIGGER consents_remote_delete_update AFTER UPDATE OF status ON consents
                WHEN NEW.status IN ('withdrawn', 'objected') AND OLD.status <> NEW.status BEGIN
                \(queue(consentReason, request: "NULL", purposeFilter: ofPurpose))
            END;
            """)
    }

    // MARK: Copies

    package static func copies(in db: Database) throws -> [RemoteCopy] {
        try Row.fetchAll(db, sql: """
            SELECT purpose, role, database, cluster, shards, published_at, last_seq, parts_lifetime, publishing_since
            FROM published_copies ORDER BY copy_id
            """).map { row in
            var copy = RemoteCopy(purpose: row[0], role: row[1], database: row[2], cluster: row[3],
                                  shards: (row[4] as String).split(separator: "\n").map(String.init), publishedAt: row[5], lastSeq: row[6],
                                  partsLifetime: row[7])
            copy.publishingSince = row[8]
            return copy
        }
    }

    /// Marks `copy` as being published since `time` (nil: done). A copy still marked when the next publish
    /// starts was cut off midway: which of its rows arrived is unknown, so the next one rewrites it.
    package static func publishing(_ copy: String, since time: Int64?, in db: Database) throws {
        try db.execute(sql: "UPDATE published_copies SET publishing_since = ? WHERE copy_id = ?", arguments: [time, copy])
    }

    /// Of `subjects`, those `purpose` may not hold by the state as it is in this transaction: erased,
    /// restricted, or withdrawn or objecting for the purpose (what the triggers queue deletes for).
    package static func leaving(_ subjects: some Sequence<SubjectID>, purpose: String, in db: Database) throws -> Set<SubjectID> {
        let out = try Set(Data.fetchAll(db, sql: """
            SELECT subject_id FROM erasures UNION SELECT subject_id FROM restrictions
            UNION SELECT subject_id FROM consents WHERE purpose = ? AND status IN ('withdrawn', 'objected')
            """, arguments: [purpose]).map { try SubjectID(bytes: Array($0)) })
        return Set(subjects.filter(out.contains))
    }

    package static func save(_ copy: RemoteCopy, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO published_copies(copy_id, purpose, role, database, cluster, shards, published_at, last_seq, parts_lifetime)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(copy_id) DO UPDATE SET cluster = excluded.cluster, published_at = excluded.published_at,
                last_seq = excluded.last_seq, parts_lifetime = excluded.parts_lifetime
            """, arguments: [copy.id, copy.purpose, copy.role, copy.database, copy.cluster, copy.shards.joined(separator: "\n"),
                             copy.publishedAt, copy.lastSeq, copy.partsLifetime])
    }

    /// Forgets `copy` once its tables are dropped from every shard: whom it held, and its pending deletes
    /// (met: nothing of the copy is left), verified at `time`.
    package static func retire(_ copy: String, at time: Int64, removalDue: Int64, in db: Database) throws {
        let pending = try Int64.fetchAll(db, sql: "SELECT id FROM remote_deletes WHERE copy_id = ? AND verified_at IS NULL", arguments: [copy])
        try verified(pending, at: time, removalDue: removalDue, in: db)
        try db.execute(sql: "DELETE FROM published_people WHERE copy_id = ?", arguments: [copy])
        try db.execute(sql: "DELETE FROM published_copies WHERE copy_id = ?", arguments: [copy])
    }

    // MARK: People

    /// Who `copy` holds, by survivor subject id.
    package static func people(of copy: String, in db: Database) throws -> [SubjectID: PublishedPerson] {
        var out: [SubjectID: PublishedPerson] = [:]
        let cursor = try Row.fetchCursor(db, sql: "SELECT subject_id, customer_id, digest FROM published_people WHERE copy_id = ?",
                                         arguments: [copy])
        while let row = try cursor.next() {
            out[try SubjectID(bytes: Array(row[0] as Data))] = PublishedPerson(customerID: row[1], digest: Array(row[2] as Data))
        }
        return out
    }

    /// Records that `copy` now holds `upserts` (new or changed rows) and no longer holds `removals`.
    package static func record(_ copy: String, upserts: [(SubjectID, PublishedPerson)], removals: [SubjectID], in db: Database) throws {
        // Bound through SQLite's own calls: a publish after a refit records most people again.
        let upsert = RawStatement(try db.cachedStatement(sql: """
            INSERT INTO published_people(copy_id, subject_id, customer_id, digest) VALUES (?, ?, ?, ?)
            ON CONFLICT(copy_id, subject_id) DO UPDATE SET customer_id = excluded.customer_id, digest = excluded.digest
            """))
        for (subject, person) in upserts {
            upsert.reset()
            try upsert.bind(1, text: copy)
            try upsert.bind(2, subject: subject)
            try upsert.bind(3, text: person.customerID)
            try upsert.bind(4, blob: person.digest)
            _ = try upsert.step("recording a published person")
        }
        upsert.reset()
        let remove = try db.cachedStatement(sql: "DELETE FROM published_people WHERE copy_id = ? AND subject_id = ?")
        for subject in removals { try remove.execute(arguments: [copy, Data(subject.bytes)]) }
    }

    // MARK: Deletes

    /// Queues deletes of `customerIDs` from `copy` (nil: one copy-wide entry).
    package static func queue(_ copy: String, customerIDs: [String?], reason: RemoteDeleteReason, request: String? = nil,
                              at time: Int64, in db: Database) throws {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO remote_deletes(copy_id, customer_id, reason, request_id, queued_at) VALUES (?, ?, ?, ?, ?)
            """)
        for id in customerIDs { try insert.execute(arguments: [copy, id, reason.rawValue, request, time]) }
    }

    /// A retention run destroyed events: every copy owes a publish from a build after `time`
    /// (one copy-wide entry each, resolved by `resolveRetention`). Returns the copies.
    @discardableResult
    package static func queueRetention(at time: Int64, in db: Database) throws -> Int {
        let ids = try String.fetchAll(db, sql: "SELECT copy_id FROM published_copies ORDER BY copy_id")
        for id in ids { try queue(id, customerIDs: [nil], reason: .retention, at: time, in: db) }
        return ids.count
    }

    /// `copy` was published from a build made at `builtAt`: the retention entries queued before it are met.
    package static func resolveRetention(of copy: String, builtAt: Int64, at time: Int64, removalDue: Int64, in db: Database) throws {
        let ids = try Int64.fetchAll(db, sql: """
            SELECT id FROM remote_deletes WHERE copy_id = ? AND reason = 'retention' AND verified_at IS NULL AND queued_at <= ?
            """, arguments: [copy, builtAt])
        try verified(ids, at: time, removalDue: removalDue, in: db)
    }

    private static let columns = "id, copy_id, customer_id, reason, request_id, queued_at, attempts, last_error, verified_at, removal_due_at"

    private static func delete(_ row: Row) -> RemoteDelete {
        RemoteDelete(id: row[0], copyID: row[1], customerID: row[2], reason: RemoteDeleteReason(rawValue: row[3]) ?? .departure,
                     requestID: row[4], queuedAt: row[5], attempts: row[6], lastError: row[7], verifiedAt: row[8], removalDueAt: row[9])
    }

    /// Deletes not yet verified, oldest first (of `copy`, or of every copy).
    package static func pending(of copy: String? = nil, in db: Database) throws -> [RemoteDelete] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM remote_deletes WHERE verified_at IS NULL"
            + (copy == nil ? "" : " AND copy_id = ?") + " ORDER BY id", arguments: StatementArguments(copy.map { [$0] } ?? []))
            .map(delete)
    }

    /// Every delete a request caused, verified or not.
    package static func deletes(ofRequest request: String, in db: Database) throws -> [RemoteDelete] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM remote_deletes WHERE request_id = ? ORDER BY id", arguments: [request])
            .map(delete)
    }

    /// Every shard showed the people of `ids` gone at `time`: their customer_id is forgotten.
    package static func verified(_ ids: [Int64], at time: Int64, removalDue: Int64, in db: Database) throws {
        let update = try db.cachedStatement(sql: """
            UPDATE remote_deletes SET verified_at = ?, removal_due_at = ?, customer_id = NULL, attempts = attempts + 1,
                last_error = NULL WHERE id = ?
            """)
        for id in ids { try update.execute(arguments: [time, removalDue, id]) }
    }

    /// A try at `ids` failed: counted, with why.
    package static func failed(_ ids: [Int64], error: String, in db: Database) throws {
        let update = try db.cachedStatement(sql: "UPDATE remote_deletes SET attempts = attempts + 1, last_error = ? WHERE id = ?")
        for id in ids { try update.execute(arguments: [error, id]) }
    }
}
