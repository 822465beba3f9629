import CCofferSQLite
import GRDBSQLite

/// SQLite's process-wide settings, made before the process opens any database.
package enum SQLiteProcess {
    /// Turns SQLite's memory statistics off for the rest of the process, when it has not opened a
    /// database yet (returns whether it took effect).
    ///
    /// With them on, every allocation SQLite makes takes one mutex shared by the whole process: a
    /// build's file writers, each inserting into a database of its own, waited on each other there.
    /// Without them, `sqlite3_hard_heap_limit64` is not enforced and `sqliteHeapBytes` reads 0, so a
    /// process that runs analysts' SQL under a heap limit (`ProjectionReader`) must keep them.
    @discardableResult
    package static func turnOffMemoryStatistics() -> Bool {
        coffer_sqlite_memory_statistics(0) == SQLITE_OK
    }
}
