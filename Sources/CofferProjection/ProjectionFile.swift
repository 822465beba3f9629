import CofferCrypto
package import CofferStore
package import Foundation
package import GRDB
import GRDBSQLite
import CofferFormats

/// A projection database at rest: the SQLite image (`sqlite3_serialize`)
/// sealed with AES-256-GCM in `projections/PURPOSE.ROLE.enc`, opened by
/// decrypting into an in-memory database (`sqlite3_deserialize`). Nothing of it
/// is written in clear.
package enum ProjectionFile {
    static let magic = Array("CPJ1".utf8)

    /// The file of `purpose` as built for `role`.
    package static func url(_ layout: VaultLayout, purpose: String, role: Role) -> URL {
        layout.projections.appendingPathComponent("\(purpose).\(role.rawValue).enc")
    }

    static func fileKey(_ roleKey: SymmetricKey, purpose: String) throws -> SymmetricKey {
        try HKDF.deriveKey(from: roleKey, label: "coffer/v1/projection-file/\(purpose)")
    }

    static func associatedData(vaultID: [UInt8], purpose: String, role: Role) -> [UInt8] {
        Array("coffer/v1/projection|\(vaultID.hexString)|\(purpose)|\(role.rawValue)".utf8)
    }

    /// The `projection_info` key of the log position a file is current through:
    /// its build's last event, or the erasure or restriction it was last purged for.
    static let reconciledKey = "reconciled_seq"
    /// The log position a file is current through (`?` is `reconciledKey`).
    static let currentThroughSQL = "SELECT max(CAST(value AS INTEGER)) FROM projection_info WHERE key IN ('last_seq', ?)"

    /// Refuses a file that is not reconciled through the latest erasure or
    /// restriction change in the log (`ProjectionPurge`).
    static func checkCurrent(_ database: AnalystDatabase, url: URL, latestPurge: Int64) throws {
        try checkCurrent(stamp: try database.integer(currentThroughSQL, binding: reconciledKey) ?? 0, url: url, latestPurge: latestPurge)
    }

    /// Refuses the file at `url`, current through `stamp`, when that is before `latestPurge`.
    private static func checkCurrent(stamp: Int64, url: URL, latestPurge: Int64) throws {
        guard stamp >= latestPurge else { throw ProjectionError.stale(file: url.lastPathComponent, seq: latestPurge) }
    }

    /// Seals the in-memory database `queue` and writes it atomically, then closes the queue: callers
    /// must not use it afterwards. The queue holds its database in one buffer (`makeMemoryDatabase`,
    /// or a file opened by `open`), which is sealed as it lies, a piece at a time: one image of the
    /// database is in memory, wiped before the queue frees it.
    static func write(_ queue: DatabaseQueue, to url: URL, key: SymmetricKey, vaultID: [UInt8], purpose: String, role: Role) throws -> Int {
        let authenticated = associatedData(vaultID: vaultID, purpose: purpose, role: role)
        let sealed = try queue.inDatabase { db -> Int in
            var size: sqlite3_int64 = 0
            guard let pointer = sqlite3_serialize(db.sqliteConnection, "main", &size, UInt32(SQLITE_SERIALIZE_NOCOPY)) else {
                throw VaultError.storage(operation: "sealing a projection", detail: "the database is not held in one buffer")
            }
            defer { memset(pointer, 0, Int(size)) }   // the plaintext image
            return try SealedFile.write(UnsafeRawBufferPointer(start: pointer, count: Int(size)), magic: magic, key: key,
                                        authenticating: authenticated, to: url)
        }
        try queue.close()
        return sealed
    }

    /// A new, empty in-memory database whose pages live in one growing buffer (SQLite's memdb), not
    /// in its page cache: `write` then seals that buffer as it is, where a plain in-memory database
    /// would need a serialised copy of itself beside it (two images of each file at that moment).
    static func makeMemoryDatabase() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.inDatabase { db in
            let rc = try adopt([], into: db.sqliteConnection, operation: "creating a projection")
            guard rc == SQLITE_OK else { throw VaultError.storage(operation: "creating a projection", detail: "SQLite error \(rc)") }
        }
        return queue
    }

    /// The file of `purpose` for `role`, decrypted into a memory database for the vault itself
    /// (`coffer publish`), refused as readers refuse it when it predates the latest erasure or restriction.
    package static func openCurrent(purpose: String, role: Role, vault: Vault) throws -> DatabaseQueue {
        let url = url(vault.layout, purpose: purpose, role: role)
        let queue = try open(url, key: fileKey(vault.projectionKey(for: role), purpose: purpose), vaultID: vault.vaultID,
                             purpose: purpose, role: role)
        try checkCurrent(stamp: try queue.read { try Int64.fetchOne($0, sql: currentThroughSQL, arguments: [reconciledKey]) ?? 0 },
                         url: url, latestPurge: try vault.database.read(Restrictions.latestPurgingEvent))
        return queue
    }

    /// Decrypts the file into a fresh in-memory database.
    /// - Throws: `VaultError.corruptFile` when it does not open with `key` (tampered, or another role's file).
    static func open(_ url: URL, key: SymmetricKey, vaultID: [UInt8], purpose: String, role: Role) throws -> DatabaseQueue {
        var image = try decrypt(url, key: key, vaultID: vaultID, purpose: purpose, role: role)
        defer { image.wipe() }
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        let queue = try DatabaseQueue(configuration: configuration)
        try queue.inDatabase { db in try deserialize(image, into: db.sqliteConnection, url: url) }
        return queue
    }

    /// The file's database image, decrypted (wipe it after use).
    static func decrypt(_ url: URL, key: SymmetricKey, vaultID: [UInt8], purpose: String, role: Role) throws -> [UInt8] {
        do {
            return try SealedFile.read(url, magic: magic, key: key, authenticating: associatedData(vaultID: vaultID, purpose: purpose, role: role))
        } catch .missing {
            throw ProjectionError.notBuilt(purpose: purpose, role: role.rawValue)
        } catch .notSealed {
            throw VaultError.corruptFile(path: url.path, reason: "not a Coffer projection")
        } catch .authenticationFailed {
            throw VaultError.corruptFile(path: url.path, reason: "it does not decrypt with this role's key (tampered or for another role)")
        }
    }

    /// Loads a database image into `connection`'s main database (SQLite then owns a copy).
    static func deserialize(_ image: [UInt8], into connection: OpaquePointer?, url: URL) throws {
        let rc = try adopt(image, into: connection, operation: "opening a projection")
        guard rc == SQLITE_OK else {
            throw VaultError.corruptFile(path: url.path, reason: "the decrypted projection is not a database (\(rc))")
        }
    }

    /// Makes a copy of `image` (empty: a new database) `connection`'s main database, in one buffer
    /// SQLite owns, grows and frees; returns `sqlite3_deserialize`'s result.
    private static func adopt(_ image: [UInt8], into connection: OpaquePointer?, operation: String) throws -> Int32 {
        // At least one byte: SQLite gives no buffer for none.
        guard let buffer = sqlite3_malloc64(sqlite3_uint64(max(image.count, 1)))?.assumingMemoryBound(to: UInt8.self) else {
            throw VaultError.storage(operation: operation, detail: "out of memory")
        }
        image.withUnsafeBufferPointer { if let base = $0.baseAddress { buffer.update(from: base, count: image.count) } }
        let flags = UInt32(SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE)
        return sqlite3_deserialize(connection, "main", buffer, sqlite3_int64(image.count), sqlite3_int64(max(image.count, 1)), flags)
    }
}

/// Why a projection could not be used.
package enum ProjectionError: CofferError, Equatable {
    case notBuilt(purpose: String, role: String)
    case noAccess(role: String, purpose: String)
    case unknownSegment(String, known: [String])
    case notFound
    /// The file predates the erasure or restriction change at log position `seq`.
    case stale(file: String, seq: Int64)
    /// A segment with fewer members than the policy's minimum group size.
    case smallGroup(segment: String, minimum: Int)

    package var description: String { Self.line(parts.problem, remedy: parts.remedy) }

    package var remedy: String? { parts.remedy }

    /// What went wrong, and what to do about it.
    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .notBuilt(purpose, role):
            return ("no projection for purpose '\(purpose)' and role \(role) yet", "the owner builds it with `coffer project build --purpose \(purpose)`")
        case let .noAccess(role, purpose):
            return ("the policy gives role \(role) no access for purpose '\(purpose)'", nil)
        case let .unknownSegment(name, known):
            return ("no segment named '\(name)'; defined: \(known.joined(separator: ", "))", nil)
        case .notFound:
            return ("no such customer in this projection (not consented to the purpose, restricted, or unknown)", nil)
        case let .smallGroup(segment, minimum):
            return ("segment '\(segment)' has fewer than \(minimum) members (the policy's minimum group size); "
                + "its members are withheld, as its size is in `segment stats`", nil)
        case let .stale(file, seq):
            return ("projections/\(file) predates the erasure or restriction change at log position \(seq) (restored from an "
                + "older copy, or written by an interrupted request), so it may still show that person; it is not read",
                "the owner rebuilds it with `coffer project build`")
        }
    }
}
