import CofferCrypto
import Foundation
import GRDB

/// Opening `vault.sqlite` with Coffer's settings, and its schema.
///
/// Settings: WAL journal; `synchronous=FULL` so an acknowledged batch survives
/// a crash or power loss; `secure_delete=ON` so deleted rows (e.g. shredded
/// keys) are overwritten with zeros; temporary tables in memory only; the WAL
/// is checkpointed every 16,384 pages (64 MiB) instead of SQLite's 1,000, so
/// the index pages a large ingest rewrites in every batch are copied into the
/// database once per checkpoint rather than after nearly every batch
/// (measured: +7–12 % ingest throughput).
enum VaultDatabase {
    /// Opens (creating if needed) the database and brings its schema up to date.
    ///
    /// - Parameter sealKey: the key of the state seals (`StateSeals`), held by
    ///   actors with the master key. Without it the connection cannot change a
    ///   sealed table, and the schema is brought up only to the version before
    ///   the seals (they are added, and computed, with the key).
    static func open(_ url: URL, readOnly: Bool = false, sealKey: SymmetricKey? = nil) throws -> DatabaseQueue {
        let queue: DatabaseQueue
        do {
            // 64 MiB page cache for writers (the subject index takes random inserts); read-only
            // connections scan sequentially and lean on the OS page cache.
            var config = configuration(readOnly: readOnly, cacheKiB: readOnly ? 4096 : 65536)
            config.prepareDatabase { try StateSeals.register(on: $0, key: sealKey) }
            queue = try DatabaseQueue(path: url.path, configuration: config)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw VaultError.diskFull(path: url.path)
        } catch {
            throw VaultError.corruptFile(path: url.path, reason: "\(error)")
        }
        if !readOnly {
            do {
                let migrator = migrator(sealKey: sealKey)
                if sealKey != nil {
                    try migrator.migrate(queue)
                } else if try !queue.read({ try migrator.appliedIdentifiers($0) }).contains(sealedMigration) {
                    // GRDB traps when asked to migrate "up to" a version a database is already past.
                    try migrator.migrate(queue, upTo: lastUnsealedMigration)
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
                throw VaultError.corruptFile(path: url.path, reason: "not a SQLite database")
            } catch {
                throw VaultError.storage(operation: "preparing the vault schema", error: error, path: url.path)
            }
        }
        try checkIsVault(queue, url: url)
        return queue
    }

    /// Coffer's connection settings, shared by the vault and the audit ledger.
    static func configuration(readOnly: Bool, cacheKiB: Int? = nil) -> Configuration {
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // REPLACE deletes fire delete triggers only with recursive triggers on (the seals need them).
            try db.execute(sql: "PRAGMA recursive_triggers = ON")
            if let cacheKiB { try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)") }
            if !db.configuration.readonly {
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            }
        }
        return config
    }

    private static func checkIsVault(_ queue: DatabaseQueue, url: URL) throws {
        do {
            let hasEvents = try queue.read { try $0.tableExists("events") }
            if !hasEvents { throw VaultError.corruptFile(path: url.path, reason: "no event log in this database") }
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.corruptFile(path: url.path, reason: "\(error)")
        }
    }

    /// The last migration that needs no key; the ones after it do.
    static let lastUnsealedMigration = "v4: data-subject requests, restrictions, suppressions"
    static let sealedMigration = "v5: seals on the tables that decide projection membership; erased subjects"
    static let epochMigration = "v6: key epochs (one secret per event kind and month)"
    static let sourcesMigration = "v7: live sources and their write keys; the inbox cursor"
    static let activationMigration = "v8: channel opt-outs and activation sends"
    static let segmentSizesMigration = "v9: segment sizes per projection build"
    static let scaleMigration = "v10: the subject index as sorted runs; dedup keys by event day"
    static let publishMigration = "v11: published copies, who they hold, and the deletes they are owed"
    static let chunkMigration = "v12: the subject index's runs in chunks of entries"

    /// The schema, one migration per format change.
    static func migrator(sealKey: SymmetricKey?) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: event log, keyring, checkpoints") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    key   TEXT PRIMARY KEY NOT NULL,
                    value BLOB NOT NULL
                ) WITHOUT ROWID;

                -- The append-only, encrypted, hash-chained event log.
                CREATE TABLE events (
                    seq          INTEGER PRIMARY KEY,    -- 1, 2, 3 … with no gaps
                    recorded_at  INTEGER NOT NULL,       -- ms since 1970, UTC
                    subject_id   BLOB NOT NULL,          -- random 16 bytes
                    kind         TEXT NOT NULL,
                    key_version  INTEGER NOT NULL,
                    nonce        BLOB NOT NULL,          -- 12 bytes
                    ciphertext   BLOB NOT NULL,          -- AES-256-GCM ciphertext ‖ tag
                    prev_hash    BLOB NOT NULL,
                    hash         BLOB NOT NULL           -- SHA-256(prev_hash ‖ canonical row)
                );
                CREATE INDEX events_by_subject ON events(subject_id);
                CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                    BEGIN SELECT RAISE(ABORT, 'the event log is append-only: rows cannot be updated'); END;
                CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                    BEGIN SELECT RAISE(ABORT, 'the event log is append-only: rows cannot be deleted'); END;

                -- Per-subject data keys, wrapped by a key derived from the master key.
                -- Erasure deletes a subject's rows here (crypto-shredding).
                CREATE TABLE keyring (
                    subject_id   BLOB NOT NULL,
                    key_version  INTEGER NOT NULL,
                    wrapped_key  BLOB NOT NULL,
                    created_at   INTEGER NOT NULL,
                    PRIMARY KEY (subject_id, key_version)
                ) WITHOUT ROWID;

                -- Signed chain heads.
                CREATE TABLE checkpoints (
                    seq        INTEGER PRIMARY KEY,
                    hash       BLOB NOT NULL,
                    signed_at  INTEGER NOT NULL,
                    signature  BLOB NOT NULL           -- Ed25519
                );
                CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                """)
        }
        migrator.registerMigration("v2: identities, merges, dedup, quarantine") { db in
            try db.execute(sql: """
                -- Identity graph: keyed token of a normalised identifier → subject.
                -- The identifier itself is kept only encrypted under the subject's key.
                CREATE TABLE identities (
                    token       BLOB PRIMARY KEY NOT NULL,  -- HMAC-SHA256(pseudonymisation key, type:value)
                    subject_id  BLOB NOT NULL,
                    id_type     TEXT NOT NULL,              -- email, phone, user_id, anonymous_id, loyalty_id…
                    nonce       BLOB NOT NULL,
                    value       BLOB NOT NULL,              -- AES-256-GCM under the subject key
                    created_at  INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX identities_by_subject ON identities(subject_id);

                -- Subjects found to be one person: absorbed → survivor. Each row also is a `merge` event.
                CREATE TABLE merges (
                    absorbed_id  BLOB PRIMARY KEY NOT NULL,
                    survivor_id  BLOB NOT NULL,
                    seq          INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX merges_by_survivor ON merges(survivor_id);

                -- Keys of records already ingested (keyed hash of messageId or content).
                CREATE TABLE dedup (
                    key  BLOB PRIMARY KEY NOT NULL
                ) WITHOUT ROWID;

                -- Rejected input, encrypted, with where it came from and why.
                CREATE TABLE quarantine (
                    id           INTEGER PRIMARY KEY,
                    received_at  INTEGER NOT NULL,
                    line         INTEGER NOT NULL,
                    byte_offset  INTEGER NOT NULL,
                    format       TEXT NOT NULL,             -- jsonl, json, csv
                    reason       TEXT NOT NULL,             -- never contains input values
                    nonce        BLOB NOT NULL,
                    ciphertext   BLOB NOT NULL              -- AES-256-GCM: {file, record, mapping}
                );
                """)
        }
        migrator.registerMigration("v3: current consent state") { db in
            try db.execute(sql: """
                -- The latest consent decision per subject and purpose. The history,
                -- with source and evidence, is in the log (kind `consent`, encrypted).
                CREATE TABLE consents (
                    subject_id    BLOB NOT NULL,
                    purpose       TEXT NOT NULL,
                    status        TEXT NOT NULL,      -- granted | withdrawn
                    effective_at  INTEGER NOT NULL,   -- ms, when the subject decided
                    expires_at    INTEGER,            -- ms, when a grant lapses
                    seq           INTEGER NOT NULL,   -- the log event that says so
                    PRIMARY KEY (subject_id, purpose)
                ) WITHOUT ROWID;
                CREATE INDEX consents_by_purpose ON consents(purpose, status);
                """)
        }
        migrator.registerMigration("v4: data-subject requests, restrictions, suppressions") { db in
            try db.execute(sql: """
                -- The request register (GDPR Art. 12: one month to answer, extendable).
                CREATE TABLE requests (
                    id            TEXT PRIMARY KEY NOT NULL,   -- DSR-0001, DSR-0002 …
                    type          TEXT NOT NULL,               -- export | erase | restrict | lift | rectify
                    subject_id    BLOB,                        -- random id; NULL when no subject was found
                    received_at   INTEGER NOT NULL,            -- ms
                    due_at        INTEGER NOT NULL,            -- ms: received + 1 month (+ extensions)
                    extended      INTEGER NOT NULL DEFAULT 0,  -- months added (at most 2)
                    status        TEXT NOT NULL,               -- open | completed | refused
                    completed_at  INTEGER,
                    log_seq       INTEGER,                     -- the log event that records the outcome, if any
                    nonce         BLOB NOT NULL,
                    details       BLOB NOT NULL                -- AES-256-GCM: {outcome, reasons} (may name people)
                ) WITHOUT ROWID;

                -- Subjects whose processing is restricted (Art. 18): kept, but left
                -- out of every projection and activation until lifted.
                CREATE TABLE restrictions (
                    subject_id  BLOB PRIMARY KEY NOT NULL,
                    request_id  TEXT NOT NULL,
                    since       INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- Keyed tokens of erased identifiers whose records are dropped at
                -- ingest (policy `erasure: suppress_returning_identifiers: true`).
                CREATE TABLE suppressions (
                    token       BLOB PRIMARY KEY NOT NULL,
                    request_id  TEXT NOT NULL,
                    since       INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration(sealedMigration) { db in
            guard let sealKey else { throw VaultError.storage(operation: "sealing the vault's tables", detail: "needs the master key") }
            try StateSeals.migration(db, key: sealKey)
        }
        migrator.registerMigration(epochMigration) { db in
            try db.execute(sql: """
                -- One random secret per key epoch (an event kind in a calendar month), wrapped like
                -- subject keys. A subject's events of the epoch are sealed under HKDF(its record key,
                -- this secret). Retention empties `wrapped_key` (the row stays: the month never gets
                -- a new secret beside rows sealed under the destroyed one).
                CREATE TABLE epoch_keys (
                    key_version   INTEGER PRIMARY KEY,   -- (year * 100 + month) * 100 + kind code
                    wrapped_key   BLOB,                  -- NULL once destroyed
                    created_at    INTEGER NOT NULL,
                    destroyed_at  INTEGER
                );
                """)
        }
        migrator.registerMigration(sourcesMigration) { db in
            try db.execute(sql: """
                -- The sources that send events to `coffer serve`. Only a keyed hash of each write
                -- key is kept (HMAC-SHA256 under meta.source_key_salt): the key itself is shown once.
                CREATE TABLE sources (
                    name        TEXT PRIMARY KEY,
                    kind        TEXT NOT NULL,
                    origins     TEXT NOT NULL,            -- JSON array of allowed browser origins
                    key_hash    BLOB NOT NULL UNIQUE,
                    key_hint    TEXT NOT NULL,            -- the key's first characters, to tell keys apart
                    created_at  INTEGER NOT NULL,
                    revoked_at  INTEGER
                );
                """)
        }
        migrator.registerMigration(activationMigration) { db in
            try db.execute(sql: ChannelOptOuts.migration)
        }
        migrator.registerMigration(segmentSizesMigration) { db in
            // Counts only (a projection file's segment sizes at each build), for sizes over time.
            try db.execute(sql: """
                CREATE TABLE segment_sizes (purpose TEXT NOT NULL, role TEXT NOT NULL, built_at INTEGER NOT NULL, segment TEXT NOT NULL,
                    people INTEGER NOT NULL, PRIMARY KEY (purpose, role, built_at, segment)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration(scaleMigration) { db in
            // Both took random inserts all over their B-trees in every batch (see `SubjectIndex`, `DedupIndex`).
            try SubjectIndex.migrate(db)
            try db.execute(sql: DedupIndex.schema)
        }
        migrator.registerMigration(publishMigration) { db in
            guard let sealKey else { throw VaultError.storage(operation: "sealing the publish tables", detail: "needs the master key") }
            try RemoteCopies.migrate(db, key: sealKey)
        }
        migrator.registerMigration(chunkMigration) { db in
            // A row per subject and run cost two B-tree inserts per appended event (see `SubjectIndex.RunWriter`).
            try SubjectIndex.chunkRuns(db)
        }
        return migrator
    }
}

/// Typed access to the `meta` table.
enum VaultMeta {
    static let vaultID = "vault_id"
    static let checkpointPublicKey = "checkpoint_public_key"
    static let createdAt = "created_at"
    static let auditPublicKey = "audit_public_key"
    /// The salt (key) of the write keys' hashes.
    static let sourceKeySalt = "source_key_salt"
    /// The collector's X25519 public key, and its private key wrapped.
    static let collectorPublicKey = "collector_public_key"
    static let collectorPrivateKey = "collector_private_key"
    /// How far the inbox was drained: its id and the last drained request's seq.
    static let inboxCursor = "inbox_cursor"

    static func get(_ db: Database, _ key: String) throws -> [UInt8]? {
        try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { Array($0) }
    }

    static func set(_ db: Database, _ key: String, _ value: [UInt8]) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [key, Data(value)])
    }
}
