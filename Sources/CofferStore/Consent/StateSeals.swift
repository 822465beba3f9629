package import CofferCrypto
import Foundation
package import GRDB
import GRDBSQLite

/// Seals on the clear tables that decide who is in a projection: consent
/// state, restrictions, the suppression list, merges and erased subjects.
///
/// Each table has a digest in `seals`: the lane-wise sum (4 × 64-bit, wrapping)
/// of HMAC-SHA256(seal key, table ‖ row) over its rows. Triggers keep it up to
/// date on every insert, update and delete, through the SQL function
/// `coffer_seal`, which exists only on connections opened with the master key.
/// Anyone who edits `vault.sqlite` without that key (flips a consent, deletes
/// a restriction) cannot compute the new digest, so `verify(_:in:)`, run by
/// every build before it trusts a table, refuses the tampered table.
///
/// Limits (SECURITY.md): the digest proves the rows are ones the vault wrote
/// together; a copy of both a table and its digest from an older state of the
/// same vault (a rollback) is caught only as far as the log's checkpoint head
/// is pinned with `verify --expect-head`.
public enum StateSeals {
    /// The tables that decide who is in a projection, and their columns in the order the row MAC reads them.
    public static let membershipTables: [(name: String, columns: [String])] = [
        ("consents", ["subject_id", "purpose", "status", "effective_at", "expires_at", "seq"]),
        ("restrictions", ["subject_id", "request_id", "since"]),
        ("suppressions", ["token", "request_id", "since"]),
        ("merges", ["absorbed_id", "survivor_id", "seq"]),
        ("erasures", ["subject_id", "request_id", "at"]),
    ]

    /// Every sealed table: those above, and what decides which remote copies must forget whom (`RemoteCopies`).
    public static let tables = membershipTables + RemoteCopies.sealedTables

    static let functionName = "coffer_seal"

    /// The migration that adds the seals: the `erasures` table, `seals`, and
    /// the triggers, with every digest computed from the rows as they are
    /// (runs only with the master key, in the migration's transaction).
    static func migration(_ db: Database, key: SymmetricKey) throws {
        try db.execute(sql: """
            -- Subjects crypto-shredded by an erasure: never in a projection again, even if
            -- an old keyring row were put back.
            CREATE TABLE erasures (
                subject_id  BLOB PRIMARY KEY NOT NULL,
                request_id  TEXT NOT NULL,
                at          INTEGER NOT NULL
            ) WITHOUT ROWID;

            -- Erasures and restriction changes, found without a scan: a projection file older
            -- than the latest of them is refused (it may still show the person).
            CREATE INDEX events_by_purge ON events(seq) WHERE kind IN ('erase', 'restrict');

            -- Keyed digests of the tables above that decide who is in a projection.
            CREATE TABLE seals (
                name    TEXT PRIMARY KEY NOT NULL,
                digest  BLOB NOT NULL              -- Σ HMAC(seal key, table ‖ row), 4 × 64-bit lanes
            ) WITHOUT ROWID;
            """)
        try seal(membershipTables, key: key, in: db)
    }

    /// Seals `sealed` (tables that exist): each one's digest from its rows as they are, and the
    /// triggers that keep it up to date.
    static func seal(_ sealed: [(name: String, columns: [String])], key: SymmetricKey, in db: Database) throws {
        let mac = try HMACSHA256(key: key)
        for (name, columns) in sealed {
            try db.execute(sql: "INSERT INTO seals(name, digest) VALUES (?, ?)",
                           arguments: [name, Data(try compute(name, columns: columns, mac: mac, in: db))])
            func values(_ prefix: String) -> String { columns.map { "\(prefix).\($0)" }.joined(separator: ", ") }
            let add = "\(functionName)(%@, 1, '\(name)', \(values("NEW")))"
            let remove = "\(functionName)(%@, -1, '\(name)', \(values("OLD")))"
            try db.execute(sql: """
                CREATE TRIGGER \(name)_seal_insert AFTER INSERT ON \(name) BEGIN
                    UPDATE seals SET digest = \(String(format: add, "digest")) WHERE name = '\(name)';
                END;
                CREATE TRIGGER \(name)_seal_delete AFTER DELETE ON \(name) BEGIN
                    UPDATE seals SET digest = \(String(format: remove, "digest")) WHERE name = '\(name)';
                END;
                CREATE TRIGGER \(name)_seal_update AFTER UPDATE ON \(name) BEGIN
                    UPDATE seals SET digest = \(String(format: add, String(format: remove, "digest"))) WHERE name = '\(name)';
                END;
                """)
        }
    }

    /// Registers `coffer_seal` on a connection: with the seal key it updates
    /// digests; without it, a write to a sealed table fails with a clear error.
    /// Registered through SQLite's own call (each call reads its arguments in
    /// place): through GRDB, boxing the arguments cost most of a publish's record.
    static func register(on db: Database, key: SymmetricKey?) throws {
        let function = SealFunction(mac: try key.map { try HMACSHA256(key: $0) })
        let code = sqlite3_create_function_v2(db.sqliteConnection, functionName, -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                              Unmanaged.passRetained(function).toOpaque(), sealFunctionCall, nil, nil, releaseSealFunction)
        guard code == SQLITE_OK else {
            throw VaultError.storage(operation: "registering \(functionName)", detail: String(cString: sqlite3_errstr(code)))
        }
    }

    /// `rowBytes` of the row `rows` stands on, read through SQLite's own calls, into `out` (emptied first).
    /// Text reads as GRDB reads it (up to a NUL, invalid UTF-8 repaired), as the seals always have.
    static func rowBytes(table: String, row rows: RawStatement, columns: Int, into out: inout RowBytes) {
        out.start(table)
        for column in 0..<Int32(columns) {
            switch rows.storage(column) {
            case .null: out.null()
            case .integer: out.integer(rows.int64(column))
            case .real: out.real(rows.double(column))
            case .text: out.text(rows.text(column).utf8)
            case .blob: rows.withBlob(column) { out.blob($0) }
            }
        }
    }

    /// The bytes a row's MAC reads: the table's name, then each value with its type and, for text and blobs, its length.
    struct RowBytes {
        private(set) var bytes: [UInt8] = []

        init(table: String) { start(table) }

        mutating func start(_ table: String) {
            bytes.removeAll(keepingCapacity: true)
            length(table.utf8.count)
            bytes.append(contentsOf: table.utf8)
        }

        private mutating func length(_ count: Int) { withUnsafeBytes(of: UInt32(count).littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func null() { bytes.append(0) }

        mutating func integer(_ number: Int64) {
            bytes.append(1)
            withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func real(_ number: Double) {
            bytes.append(2)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func text<C: Collection>(_ utf8: C) where C.Element == UInt8 {
            bytes.append(3)
            length(utf8.count)
            bytes.append(contentsOf: utf8)
        }

        mutating func blob<C: Collection>(_ data: C) where C.Element == UInt8 {
            bytes.append(4)
            length(data.count)
            bytes.append(contentsOf: data)
        }
    }

    /// The digest of `table` as its rows are now (read through SQLite's own calls, the lanes summed in place:
    /// GRDB's boxing of each value and an array per row cost more than the MACs).
    static func compute(_ table: String, columns: [String], mac: HMACSHA256, in db: Database) throws -> [UInt8] {
        var lanes: [UInt64] = [0, 0, 0, 0], row = RowBytes(table: table), tag = [UInt8](repeating: 0, count: 32)
        let rows = RawStatement(try db.makeStatement(sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table)"))
        while try rows.step("reading \(table)") {
            rowBytes(table: table, row: rows, columns: columns.count, into: &row)
            try row.bytes.withUnsafeBytes { bytes in try tag.withUnsafeMutableBytes { try mac.authenticate(bytes, into: $0) } }
            tag.withUnsafeBytes { tag in
                for lane in 0..<4 { lanes[lane] &+= UInt64(littleEndian: tag.loadUnaligned(fromByteOffset: lane * 8, as: UInt64.self)) }
            }
        }
        var digest: [UInt8] = []
        for lane in lanes { withUnsafeBytes(of: lane.littleEndian) { digest.append(contentsOf: $0) } }
        return digest
    }

    /// Checks that `names` (default: every sealed table) hold exactly the rows
    /// the vault wrote. O(rows): one HMAC per row.
    /// - Throws: `VaultError.tampered` naming the table.
    package static func verify(_ names: [String]? = nil, key: SymmetricKey, in db: Database, path: String) throws {
        let mac = try HMACSHA256(key: key)
        for (name, columns) in tables where names?.contains(name) ?? true {
            let stored = try Data.fetchOne(db, sql: "SELECT digest FROM seals WHERE name = ?", arguments: [name]).map { Array($0) }
            let actual = try compute(name, columns: columns, mac: mac, in: db)
            guard let stored, ConstantTime.equals(stored, actual) else {
                throw VaultError.tamperedTable(path: path, table: name)
            }
        }
    }
}

/// `coffer_seal(digest, sign, table, values…)`, one per connection (SQLite runs a connection's calls one
/// at a time, so its HMAC context and buffers need no lock): the digest plus or minus, lane by lane, the
/// HMAC of the row's bytes. Without the seal key (an actor other than the owner), it refuses.
private final class SealFunction {
    let mac: HMACSHA256?
    var row = StateSeals.RowBytes(table: "")
    var tag = [UInt8](repeating: 0, count: 32)

    init(mac: HMACSHA256?) { self.mac = mac }

    func call(_ context: OpaquePointer?, _ count: Int32, _ arguments: UnsafeMutablePointer<OpaquePointer?>?) {
        guard count >= 3, let arguments, sqlite3_value_type(arguments[1]) == SQLITE_INTEGER,
              sqlite3_value_type(arguments[2]) == SQLITE_TEXT, let name = sqlite3_value_text(arguments[2]) else {
            return sqlite3_result_error(context, "coffer_seal: bad arguments", -1)
        }
        let table = String(cString: name), sign = sqlite3_value_int64(arguments[1])
        guard let mac else {
            return sqlite3_result_error(context, "the \(table) table is sealed: only an actor holding the vault's master key may change it", -1)
        }
        let digest = arguments[0]
        guard sqlite3_value_type(digest) == SQLITE_BLOB else {
            return sqlite3_result_error(context, "the seal of the \(table) table is missing: the vault was changed outside Coffer; run `coffer verify`", -1)
        }
        row.start(table)
        for index in 3..<Int(count) {
            let value = arguments[index]
            switch sqlite3_value_type(value) {
            case SQLITE_INTEGER: row.integer(sqlite3_value_int64(value))
            case SQLITE_FLOAT: row.real(sqlite3_value_double(value))
            // As GRDB reads text (up to a NUL, invalid UTF-8 repaired): the seals were always computed so.
            case SQLITE_TEXT: row.text(String(cString: sqlite3_value_text(value)).utf8)
            case SQLITE_BLOB:
                let bytes = Int(sqlite3_value_bytes(value))
                row.blob(UnsafeRawBufferPointer(start: bytes > 0 ? sqlite3_value_blob(value) : nil, count: bytes))
            default: row.null()
            }
        }
        do {
            try row.bytes.withUnsafeBytes { bytes in try tag.withUnsafeMutableBytes { try mac.authenticate(bytes, into: $0) } }
        } catch {
            return sqlite3_result_error(context, "coffer_seal: \(error)", -1)
        }
        // The digest's lanes (missing bytes read as 0), plus or minus the tag's, little-endian, wrapping.
        var out = [UInt8](repeating: 0, count: 32)
        let stored = Int(sqlite3_value_bytes(digest)), base = sqlite3_value_blob(digest)
        tag.withUnsafeBytes { tag in
            for lane in 0..<4 {
                var value: UInt64 = 0
                for byte in 0..<8 where lane * 8 + byte < stored {
                    value |= UInt64(base!.load(fromByteOffset: lane * 8 + byte, as: UInt8.self)) << (8 * UInt64(byte))
                }
                let mac = UInt64(littleEndian: tag.loadUnaligned(fromByteOffset: lane * 8, as: UInt64.self))
                let sum = sign >= 0 ? value &+ mac : value &- mac
                withUnsafeBytes(of: sum.littleEndian) { out.replaceSubrange((lane * 8)..<(lane * 8 + 8), with: $0) }
            }
        }
        out.withUnsafeBytes { sqlite3_result_blob(context, $0.baseAddress, 32, sqliteTransient) }
    }
}

private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

private let sealFunctionCall: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, count, arguments in
    Unmanaged<SealFunction>.fromOpaque(sqlite3_user_data(context)!).takeUnretainedValue().call(context, count, arguments)
}

private let releaseSealFunction: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
    if let pointer { Unmanaged<SealFunction>.fromOpaque(pointer).release() }
}

extension Vault {
    /// Checks the seals of `tables` (default: all) against their rows.
    /// - Throws: `VaultError.tamperedTable` when one was changed outside Coffer.
    public func verifySeals(_ tables: [String]? = nil) throws {
        let key = try keys().stateSeal
        try database.read { try StateSeals.verify(tables, key: key, in: $0, path: layout.database.path) }
    }
}
