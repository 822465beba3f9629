import CofferStore
import GRDB
import Testing

/// The SQLite-level binds and reads the hot loops use keep what GRDB would.
struct RawStatementTests {
    @Test("a text bound raw keeps every byte (a NUL inside), and '' stays '' rather than NULL")
    func textBinds() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (x)")
            let insert = RawStatement(try db.makeStatement(sql: "INSERT INTO t VALUES (?)"))
            for text in ["a\u{0}b", "", "café"] {
                insert.reset()
                try insert.bind(1, text: text)
                #expect(try !insert.step("inserting"))
            }
            let rows = try Row.fetchAll(db, sql: "SELECT typeof(x), length(CAST(x AS BLOB)) FROM t ORDER BY rowid")
            #expect(rows.map { "\($0[0] as String) \($0[1] as Int)" } == ["text 3", "text 0", "text 5"])
            let read = RawStatement(try db.makeStatement(sql: "SELECT x FROM t ORDER BY rowid"))
            var texts: [String] = []
            while try read.step("reading") { texts.append(read.withText(0) { String(decoding: $0, as: UTF8.self) }) }
            #expect(texts == ["a\u{0}b", "", "café"])
        }
    }

    @Test("SQLite's memory statistics cannot be turned off once a database is open: a process that opened one keeps its heap limit")
    func memoryStatisticsStayOnceOpen() throws {
        let queue = try DatabaseQueue()
        try queue.write { try $0.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))") }
        #expect(SQLiteProcess.turnOffMemoryStatistics() == false)
        // Still counted: the heap limit analysts' SQL runs under reads this.
        #expect(sqliteHeapBytes() > 0)
    }
}
