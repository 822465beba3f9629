import CofferStore
import Foundation
import GRDBSQLite

/// The decrypted projection an analyst's SQL runs on: an in-memory SQLite
/// database opened through the C API rather than through GRDB, so the
/// authorizer that confines analyst SQL is Coffer's alone (GRDB installs its
/// own on the connections it opens, for its own bookkeeping).
final class AnalystDatabase {
    let connection: OpaquePointer

    /// Opens a memory database holding `image` (a decrypted projection file at `url`).
    init(image: [UInt8], url: URL) throws {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(":memory:", &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            sqlite3_close_v2(handle)
            throw VaultError.storage(operation: "opening a projection", detail: "SQLite cannot open a memory database", sqliteCode: rc)
        }
        connection = handle
        try ProjectionFile.deserialize(image, into: handle, url: url)
        try execute("PRAGMA temp_store = MEMORY")
    }

    deinit { sqlite3_close_v2(connection) }

    /// Runs statements that return no rows.
    func execute(_ sql: String) throws {
        guard sqlite3_exec(connection, sql, nil, nil, nil) == SQLITE_OK else { throw failure("preparing a projection") }
    }

    /// The first column of the first row of `sql` with `text` bound to its one `?`, as an integer (nil: no row, or NULL).
    func integer(_ sql: String, binding text: String) throws -> Int64? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw failure("reading a projection") }
        defer { sqlite3_finalize(statement) }
        guard text.withCString({ sqlite3_bind_text(statement, 1, $0, -1, ProjectionBuilder.transient) }) == SQLITE_OK else { throw failure("reading a projection") }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return sqlite3_column_type(statement, 0) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, 0)
        case SQLITE_DONE: return nil
        default: throw failure("reading a projection")
        }
    }

    /// From now on the connection only reads, and only what `authorizer` allows.
    func confine(to authorizer: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                                UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32) throws {
        try execute("PRAGMA query_only = ON")
        guard sqlite3_set_authorizer(connection, authorizer, nil) == SQLITE_OK else { throw failure("confining analyst SQL") }
    }

    private func failure(_ operation: String) -> VaultError {
        .storage(operation: operation, detail: String(cString: sqlite3_errmsg(connection)), sqliteCode: sqlite3_extended_errcode(connection))
    }
}
