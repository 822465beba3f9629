package import GRDB
import GRDBSQLite

/// Direct SQLite C API access to a statement GRDB prepared, for the hot loops
/// (appending and verifying the log, reading a projection to publish) where
/// GRDB's value boxing costs ~40 %.
package struct RawStatement {
    /// Kept so GRDB does not finalize the statement while it is in use.
    private let statement: Statement
    let handle: OpaquePointer

    package init(_ statement: Statement) {
        self.statement = statement
        handle = statement.sqliteStatement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    package func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ value: Int64) throws {
        try check(sqlite3_bind_int64(handle, index, value), binding: index)
    }

    func bind(_ index: Int32, blob: [UInt8]) throws {
        try check(blob.withUnsafeBytes {
            sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), Self.transient)
        }, binding: index)
    }

    func bind(_ index: Int32, subject: SubjectID) throws {
        try check(subject.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }, binding: index)
    }

    /// Binds all of `text`'s UTF-8 bytes (a NUL inside included, as GRDB binds a string; '' stays '', not NULL).
    package func bind(_ index: Int32, text: String) throws {
        var text = text
        try check(text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_text(handle, index, "", 0, Self.transient) }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, Int32(bytes.count), Self.transient)
            }
        }, binding: index)
    }

    /// A bind that SQLite refused (out of memory, a value over its length limit) is an error, with SQLite's words.
    private func check(_ code: Int32, binding index: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw VaultError.storage(operation: "binding parameter \(index) of a statement",
                                 detail: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))))
    }

    /// Steps once: `true` when a row is available, `false` when done.
    package func step(_ operation: String) throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            throw VaultError.storage(operation: operation,
                                     detail: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))))
        }
    }

    package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    package func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    /// How SQLite stores a column's value in the current row.
    package enum Storage { case null, integer, real, text, blob }

    package func storage(_ column: Int32) -> Storage {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: .integer
        case SQLITE_FLOAT: .real
        case SQLITE_TEXT: .text
        case SQLITE_BLOB: .blob
        default: .null
        }
    }

    /// Calls `body` with a text column's UTF-8 bytes where SQLite holds them (valid until the next step).
    package func withText<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = sqlite3_column_text(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? start : nil, count: count))
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let base = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Calls `body` with a blob column's bytes where SQLite holds them (valid until the next step).
    package func withBlob<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? sqlite3_column_blob(handle, column) : nil, count: count))
    }

    package func text(_ column: Int32) -> String {
        guard let cString = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: cString)
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
}

/// What SQLite has allocated in this process (its page caches, statements,
/// schemas), for benchmarks that tell it apart from the rest of the heap.
package func sqliteHeapBytes() -> Int64 { sqlite3_memory_used() }
