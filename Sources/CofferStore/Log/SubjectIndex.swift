import CofferFormats
import Foundation
package import GRDB

/// Which log positions belong to each subject: the index an export, an erasure
/// or `subject show` reads, kept as a log-structured merge tree of sorted runs.
///
/// A B-tree index on `events(subject_id)` took every appended event at a random
/// place (subject ids are random), so each batch dirtied pages all over it and
/// its cost grew with the vault. Here every append writes one new *run*: the
/// batch's subjects in id order, each with its positions (`subject_runs`,
/// keyed by the run's first position, so a run lands at the end of the table).
/// When a level holds `fanIn` runs they are merged into one run of the next
/// level, in the same transaction (so a kill mid-merge leaves the runs as they
/// were). A read takes the union of the subject's entries in every run: one
/// seek per run, and runs stay few (at most `fanIn - 1` per level).
///
/// An erasure removes the subject's entries: its events stay in the append-only
/// log, unreadable without the shredded key, and no longer indexed.
package enum SubjectIndex {
    /// Runs of one level merged into one run of the next when there are this many.
    package static let fanIn = 8

    /// The tables (migration v10).
    static let schema = """
        CREATE TABLE subject_runs (
            run         INTEGER NOT NULL,   -- the run's first log position
            subject_id  BLOB NOT NULL,
            seqs        BLOB NOT NULL,      -- the subject's positions in the run, ascending, as varint gaps from run
            PRIMARY KEY (run, subject_id)
        ) WITHOUT ROWID;
        CREATE TABLE subject_run_list (
            run       INTEGER PRIMARY KEY,
            level     INTEGER NOT NULL,     -- 0: one append; n: fanIn runs of level n - 1 merged
            last_seq  INTEGER NOT NULL,
            events    INTEGER NOT NULL
        );
        """

    /// Creates the tables and indexes every event already in the log as one
    /// run, then drops the old B-tree index (vaults from before migration v10).
    static func migrate(_ db: Database) throws {
        try db.execute(sql: schema)
        var entries: [(subject: [UInt8], seqs: [Int64])] = []
        var count = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT subject_id, seq FROM events ORDER BY subject_id, seq")
        while let row = try rows.next() {
            let subject = Array(row[0] as Data), seq: Int64 = row[1]
            if entries.last?.subject == subject {
                entries[entries.count - 1].seqs.append(seq)
            } else {
                entries.append((subject, [seq]))
            }
            count += 1
        }
        if count > 0 {
            let first = entries.lazy.map { $0.seqs[0] }.min()!, last = entries.lazy.map { $0.seqs.last! }.max()!
            try write(run: first, level: level(forEvents: count), lastSeq: last, events: count, entries: entries, in: db)
        }
        try db.execute(sql: "DROP INDEX IF EXISTS events_by_subject")
    }

    /// The level a run of `events` events belongs at (a run of one 10,000-event append is level 0).
    static func level(forEvents events: Int) -> Int {
        var level = 0, size = events
        while size >= 10_000 * fanIn {
            size /= fanIn
            level += 1
        }
        return level
    }

    /// Indexes one append's events (`subjects[i]` is at position `firstSeq + i`) as
    /// a level-0 run, then merges levels that reached `fanIn` runs. Inside the append's transaction.
    static func record(subjects: [[UInt8]], firstSeq: Int64, in db: Database) throws {
        guard !subjects.isEmpty else { return }
        var positions: [[UInt8]: [Int64]] = [:]
        for (offset, subject) in subjects.enumerated() { positions[subject, default: []].append(firstSeq + Int64(offset)) }
        let entries = positions.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (subject: $0.key, seqs: $0.value) }
        try write(run: firstSeq, level: 0, lastSeq: firstSeq + Int64(subjects.count) - 1, events: subjects.count, entries: entries, in: db)
        try compact(in: db)
    }

    /// Every log position of `subject`, ascending.
    package static func seqs(of subject: SubjectID, in db: Database) throws -> [Int64] {
        var out: [Int64] = []
        let select = RawStatement(try db.cachedStatement(sql: "SELECT seqs FROM subject_runs WHERE run = ? AND subject_id = ?"))
        for run in try runs(in: db) {
            select.reset()
            try select.bind(1, run)
            try select.bind(2, blob: subject.bytes)
            if try select.step("reading the subject index") { try decode(select.blob(0), run: run, into: &out) }
        }
        select.reset()
        return out.sorted()
    }

    /// The log rows of `subject`'s events, in log order: `columns` of `events` (they must
    /// include `seq` and `subject_id`), read 500 positions a query.
    ///
    /// - Throws: `VaultError.corruptFile` when the index names a position the log does not
    ///   hold, or an event of another subject.
    package static func rows(of subject: SubjectID, columns: String, in db: Database) throws -> [Row] {
        let seqs = try seqs(of: subject, in: db)
        var rows: [Row] = []
        rows.reserveCapacity(seqs.count)
        for start in stride(from: 0, to: seqs.count, by: 500) {
            let chunk = seqs[start..<min(start + 500, seqs.count)]
            rows += try Row.fetchAll(db, sql: """
                SELECT \(columns) FROM events WHERE seq IN (\(chunk.map { _ in "?" }.joined(separator: ", "))) ORDER BY seq
                """, arguments: StatementArguments(Array(chunk)))
        }
        guard rows.count == seqs.count,
              zip(seqs, rows).allSatisfy({ $0 == $1["seq"] as Int64 && ($1["subject_id"] as Data).elementsEqual(subject.bytes) }) else {
            throw VaultError.corruptFile(path: VaultLayout.databaseName,
                                         reason: "the subject index names events that are not the subject's in the log; run `coffer verify`")
        }
        return rows
    }

    /// Removes `subjects` from every run (erasure). Returns how many entries went.
    @discardableResult
    package static func remove(_ subjects: [SubjectID], in db: Database) throws -> Int {
        var removed = 0
        for run in try runs(in: db) {
            for subject in subjects {
                let arguments: StatementArguments = [run, Data(subject.bytes)]
                guard let seqs = try Data.fetchOne(db, sql: "SELECT seqs FROM subject_runs WHERE run = ? AND subject_id = ?",
                                                   arguments: arguments) else { continue }
                var decoded: [Int64] = []
                try decode(Array(seqs), run: run, into: &decoded)
                try db.execute(sql: "DELETE FROM subject_runs WHERE run = ? AND subject_id = ?", arguments: arguments)
                try db.execute(sql: "UPDATE subject_run_list SET events = events - ? WHERE run = ?", arguments: [decoded.count, run])
                removed += decoded.count
            }
        }
        return removed
    }

    /// The runs, oldest first.
    static func runs(in db: Database) throws -> [Int64] {
        try Int64.fetchAll(db, sql: "SELECT run FROM subject_run_list ORDER BY run")
    }

    /// Merges runs while some level holds `fanIn` of them.
    static func compact(in db: Database) throws {
        while let level = try Int.fetchOne(db, sql: """
            SELECT level FROM subject_run_list GROUP BY level HAVING count(*) >= ? ORDER BY level LIMIT 1
            """, arguments: [fanIn]) {
            let runs = try Row.fetchAll(db, sql: "SELECT run, last_seq, events FROM subject_run_list WHERE level = ? ORDER BY run LIMIT ?",
                                        arguments: [level, fanIn])
            try merge(runs.map { $0[0] as Int64 }, lastSeq: runs.map { $0[1] as Int64 }.max()!, events: runs.map { $0[2] as Int }.reduce(0, +),
                      into: level + 1, in: db)
        }
    }

    /// Replaces `runs` by one run of `level` holding the union of their entries.
    private static func merge(_ runs: [Int64], lastSeq: Int64, events: Int, into level: Int, in db: Database) throws {
        var positions: [[UInt8]: [Int64]] = [:]
        try forEachEntry(of: runs, in: db) { subject, seqs in positions[subject, default: []].append(contentsOf: seqs) }
        let list = runs.map(String.init).joined(separator: ", ")
        try db.execute(sql: "DELETE FROM subject_runs WHERE run IN (\(list))")
        try db.execute(sql: "DELETE FROM subject_run_list WHERE run IN (\(list))")
        let entries = positions.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (subject: $0.key, seqs: $0.value.sorted()) }
        try write(run: runs.min()!, level: level, lastSeq: lastSeq, events: events, entries: entries, in: db)
    }

    /// Writes one run: its entries in subject order (they then land at the end of the run's key range).
    private static func write(run: Int64, level: Int, lastSeq: Int64, events: Int, entries: [(subject: [UInt8], seqs: [Int64])],
                              in db: Database) throws {
        let insert = RawStatement(try db.cachedStatement(sql: "INSERT INTO subject_runs(run, subject_id, seqs) VALUES (?, ?, ?)"))
        var encoded: [UInt8] = []
        for entry in entries {
            encoded.removeAll(keepingCapacity: true)
            var previous = run
            for seq in entry.seqs {
                var gap = UInt64(seq - previous)
                previous = seq
                while gap >= 0x80 {
                    encoded.append(UInt8(truncatingIfNeeded: gap) | 0x80)
                    gap >>= 7
                }
                encoded.append(UInt8(gap))
            }
            insert.reset()
            try insert.bind(1, run)
            try insert.bind(2, blob: entry.subject)
            try insert.bind(3, blob: encoded)
            _ = try insert.step("writing the subject index")
        }
        insert.reset()
        try db.execute(sql: "INSERT INTO subject_run_list(run, level, last_seq, events) VALUES (?, ?, ?, ?)",
                       arguments: [run, level, lastSeq, events])
    }

    /// Appends the positions `encoded` holds (gaps from `run`) to `out`.
    static func decode(_ encoded: [UInt8], run: Int64, into out: inout [Int64]) throws {
        var previous = run, value: UInt64 = 0, shift: UInt64 = 0
        for byte in encoded {
            guard shift < 63 else { throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the subject index holds an impossible entry") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                previous += Int64(value)
                out.append(previous)
                value = 0
                shift = 0
            } else {
                shift += 7
            }
        }
        guard shift == 0 else { throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the subject index holds a cut entry") }
    }

    /// A subject's positions, summed up so two lists can be compared without keeping them.
    package struct Digest: Equatable, Sendable {
        var count = 0
        var sum: UInt64 = 0
        var mixed: UInt64 = 0

        package init() {}

        package mutating func add(_ seq: Int64) {
            count += 1
            sum &+= UInt64(bitPattern: seq)
            // A multiply-xorshift of the position, so two lists with the same count and sum still differ.
            var mix = UInt64(bitPattern: seq) &* 0x9E37_79B9_7F4A_7C15
            mix ^= mix >> 29
            mixed &+= mix &* 0xBF58_476D_1CE4_E5B9
        }
    }

    /// Compares the index with `fromLog` (each subject's digest, from reading the
    /// whole log; erased subjects are expected to be absent): nil when they agree,
    /// else what differs. Nil, too, for a vault not yet migrated to the index.
    package static func mismatch(withLog fromLog: [[UInt8]: Digest], in db: Database) throws -> String? {
        guard try db.tableExists("subject_run_list") else { return nil }
        let erased = Set(try Data.fetchAll(db, sql: "SELECT subject_id FROM erasures").map { Array($0) })
        var fromIndex: [[UInt8]: Digest] = [:]
        try forEachEntry(of: runs(in: db), in: db) { subject, seqs in for seq in seqs { fromIndex[subject, default: Digest()].add(seq) } }
        for (subject, digest) in fromLog where !erased.contains(subject) && fromIndex[subject] != digest {
            return "the subject index lists \(fromIndex[subject]?.count ?? 0) events of subject \(subject.hexString.prefix(8))…, "
                + "the log holds \(digest.count) (an index entry was altered or removed)"
        }
        if let extra = fromIndex.keys.first(where: { fromLog[$0] == nil || erased.contains($0) }) {
            return "the subject index lists events of subject \(extra.hexString.prefix(8))…, which has none in the log or was erased"
        }
        return nil
    }

    /// Where the index and the log disagree (nil: nowhere), reading the whole log: `coffer verify` does the
    /// same on its way through the chain.
    package static func mismatch(in db: Database) throws -> String? {
        var fromLog: [[UInt8]: Digest] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT subject_id, seq FROM events ORDER BY seq")
        while let row = try rows.next() { fromLog[Array(row[0] as Data), default: Digest()].add(row[1]) }
        if let mismatch = try mismatch(withLog: fromLog, in: db) { return mismatch }
        let listed = try Int.fetchOne(db, sql: "SELECT coalesce(sum(events), 0) FROM subject_run_list") ?? 0
        var indexed = 0
        try forEachEntry(of: runs(in: db), in: db) { _, seqs in indexed += seqs.count }
        return listed == indexed ? nil : "the run list counts \(listed) entries, the runs hold \(indexed)"
    }

    /// Every entry of `runs`, run by run: the subject and its positions in that run.
    private static func forEachEntry(of runs: [Int64], in db: Database, _ body: ([UInt8], [Int64]) throws -> Void) throws {
        var seqs: [Int64] = []
        for run in runs {
            let rows = try Row.fetchCursor(db, sql: "SELECT subject_id, seqs FROM subject_runs WHERE run = ?", arguments: [run])
            while let row = try rows.next() {
                seqs.removeAll(keepingCapacity: true)
                try decode(Array(row[1] as Data), run: run, into: &seqs)
                try body(Array(row[0] as Data), seqs)
            }
        }
    }
}
