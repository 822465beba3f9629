public import CofferCrypto
import CofferFormats
import Foundation
package import GRDB
import Synchronization

/// `vault/inbox.sqlite`: the requests `coffer serve` accepted, each sealed to
/// the collector key (HPKE), waiting for `coffer ingest --inbox`. Append-only
/// (rows are never changed, only deleted once drained), durable (a commit is
/// on disk before the collector answers 200), and without plaintext.
public final class Inbox: Sendable {
    package let queue: DatabaseQueue
    /// This inbox file's random id: the vault's drain cursor names it, so a
    /// replaced inbox file is not skipped as if drained.
    public let id: [UInt8]

    /// Opens (creating when missing) the inbox of the vault at `layout`.
    public init(layout: VaultLayout) throws {
        let url = layout.directory.appendingPathComponent(Self.fileName)
        do {
            queue = try DatabaseQueue(path: url.path, configuration: VaultDatabase.configuration(readOnly: false))
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1: sealed requests") { db in
                try db.execute(sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE requests (
                        seq          INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order, never reused
                        id           BLOB NOT NULL UNIQUE,                -- 16 random bytes
                        received_at  INTEGER NOT NULL,
                        sealed       BLOB NOT NULL                        -- HPKE: enc ‖ ciphertext ‖ tag
                    );
                    CREATE TRIGGER requests_no_update BEFORE UPDATE ON requests
                    BEGIN SELECT RAISE(ABORT, 'the inbox is append-only'); END;
                    """)
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('inbox_id', ?)", arguments: [Data(try SecureRandom.bytes(16))])
            }
            try migrator.migrate(queue)
            id = try queue.read { try Data.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'inbox_id'").map { Array($0) } } ?? []
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw VaultError.corruptFile(path: url.path, reason: "not a SQLite database")
        } catch {
            throw VaultError.storage(operation: "opening the inbox", error: error, path: url.path)
        }
    }

    public static let fileName = "inbox.sqlite"

    /// One sealed request as stored.
    public struct Request: Sendable {
        public var seq: Int64
        public var id: [UInt8]
        public var receivedAt: Int64
        public var sealed: [UInt8]
    }

    /// Appends requests in one transaction; returns when it is on disk.
    package func append(_ requests: [(id: [UInt8], receivedAt: Int64, sealed: [UInt8])]) throws {
        try queue.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO requests(id, received_at, sealed) VALUES (?, ?, ?)")
            for request in requests {
                try statement.execute(arguments: [Data(request.id), request.receivedAt, Data(request.sealed)])
            }
        }
    }

    /// Up to `limit` requests after `seq`, in arrival order.
    public func requests(after seq: Int64, limit: Int) throws -> [Request] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, id, received_at, sealed FROM requests WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [seq, limit]).map {
                Request(seq: $0[0], id: Array($0[1] as Data), receivedAt: $0[2], sealed: Array($0[3] as Data))
            }
        }
    }

    /// Deletes the requests up to `seq` (drained).
    public func delete(through seq: Int64) throws {
        try queue.write { try $0.execute(sql: "DELETE FROM requests WHERE seq <= ?", arguments: [seq]) }
    }

    /// How many requests wait.
    public func depth() throws -> Int { try backlog().depth }

    /// What waits to be drained: how many requests, and when the oldest arrived.
    public struct Backlog: Sendable, Equatable {
        public var depth: Int
        /// ms since 1970; nil when the inbox is empty.
        public var oldestReceivedAt: Int64?
    }

    public func backlog() throws -> Backlog {
        try queue.read { db in
            Backlog(depth: try Int.fetchOne(db, sql: "SELECT count(*) FROM requests") ?? 0,
                    oldestReceivedAt: try Int64.fetchOne(db, sql: "SELECT received_at FROM requests ORDER BY seq LIMIT 1"))
        }
    }
}

/// What a sealed request holds: where it came from, and the body as received.
public struct InboxEnvelope: Sendable, Equatable {
    /// The source's name and kind.
    public var source: String
    public var kind: EventSource.Kind
    /// The endpoint it was posted to: `identify`, `track`, …, `batch` or `import`.
    public var endpoint: String
    /// When the collector received it (ms since 1970).
    public var receivedAt: Int64
    /// The JSON body, decompressed.
    public var body: [UInt8]

    public init(source: String, kind: EventSource.Kind, endpoint: String, receivedAt: Int64, body: [UInt8]) {
        self.source = source
        self.kind = kind
        self.endpoint = endpoint
        self.receivedAt = receivedAt
        self.body = body
    }

    static let info = Array("coffer/v1/inbox".utf8)

    static func aad(id: [UInt8], receivedAt: Int64) -> [UInt8] {
        id + withUnsafeBytes(of: receivedAt.bigEndian) { Array($0) }
    }

    /// Sealed to `key` for the inbox row `id`: a header line, a newline, the body. The receive
    /// time is the row's, authenticated as associated data with the id, not repeated inside.
    public func sealed(to key: X25519.PublicKey, id: [UInt8]) throws -> [UInt8] {
        var header = JSONObject()
        header["source"] = .string(source)
        header["kind"] = .string(kind.rawValue)
        header["endpoint"] = .string(endpoint)
        var plain = CanonicalJSON.data(.object(header))
        plain.append(0x0A)
        plain.append(contentsOf: body)
        return try HPKE.seal(plain, to: key, info: Self.info, aad: Self.aad(id: id, receivedAt: receivedAt))
    }

    /// Opens a stored request with the collector's private key.
    /// - Throws: `VaultError.corruptFile` when it does not open (altered, or sealed to another vault).
    public static func open(_ request: Inbox.Request, with key: X25519.PrivateKey) throws -> InboxEnvelope {
        let damaged = VaultError.corruptFile(path: Inbox.fileName, reason: "request \(request.seq) fails authentication "
            + "(altered, or sealed to another vault's collector key)")
        guard let plain = try? HPKE.open(request.sealed, with: key, info: info, aad: aad(id: request.id, receivedAt: request.receivedAt)),
              let newline = plain.firstIndex(of: 0x0A),
              let header = try? JSONReader.document(Array(plain[..<newline])).object,
              let source = header["source"]?.string, let kind = header["kind"]?.string.flatMap(EventSource.Kind.init(rawValue:)),
              let endpoint = header["endpoint"]?.string
        else { throw damaged }
        return InboxEnvelope(source: source, kind: kind, endpoint: endpoint, receivedAt: request.receivedAt,
                             body: Array(plain[(newline + 1)...]))
    }
}
