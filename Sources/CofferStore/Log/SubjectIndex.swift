import CofferFormats
import Foundation
package import GRDB

/// Which log positions belong to each subject: the index an export, an erasure
/// or `subject show` reads, kept as a log-structured merge tree of sorted runs.
///
/// A B-tree index on `events(subject_id)` took every appended event at a random
/// place (subject ids are random), so each batch dirtied pages all over it and
/// its cost grew with the vault. Here every append writes one new *run*: the
/// batch's subjects in id order, each with its positions, packed into chunks
/// (`subject_chunks`, keyed by the run's first position and the chunk's first
/// subject, so a run lands at the end of the table; see `RunWriter`).
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

    /// The table of the runs' chunks (migration v12; v10 makes it too, for vaults from before it).
    static let chunksSchema = """
        CREATE TABLE subject_chunks (
            run      INTEGER NOT NULL,   -- the run's first log position
            first    BLOB NOT NULL,      -- the chunk's first subject id
            entries  BLOB NOT NULL,      -- subjects in id order with their positions (SubjectIndex.RunWriter)
            PRIMARY KEY (run, first)
        ) WITHOUT ROWID;
        """

    /// The tables (migration v10, in the chunked form of v12).
    static let schema = chunksSchema + """
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
        let bounds = try Row.fetchOne(db, sql: "SELECT min(seq), max(seq), count(*) FROM events")
        guard let bounds, let first = bounds[0] as Int64?, let last = bounds[1] as Int64? else {
            try db.execute(sql: "DROP INDEX IF EXISTS events_by_subject")
            return
        }
        var writer = RunWriter.inserting(run: first, into: db)
        var current: SubjectID?, seqs: [Int64] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT subject_id, seq FROM events ORDER BY subject_id, seq")
        while let row = try rows.next() {
            let subject = try SubjectID(bytes: Array(row[0] as Data)), seq: Int64 = row[1]
            if subject != current, let current {
                try writer.add(current, seqs: seqs)
                seqs.removeAll(keepingCapacity: true)
            }
            current = subject
            seqs.append(seq)
        }
        if let current { try writer.add(current, seqs: seqs) }
        try writer.finish()
        try listRun(first, level: level(forEvents: bounds[2]), lastSeq: last, events: bounds[2], in: db)
        try db.execute(sql: "DROP INDEX IF EXISTS events_by_subject")
    }

    /// Rewrites the runs of a vault from migrations v10 and v11, one row per subject and run
    /// (`subject_runs`: the positions as varint gaps from the run's first), as chunks (migration v12).
    static func chunkRuns(_ db: Database) throws {
        guard try db.tableExists("subject_runs") else { return }
        try db.execute(sql: chunksSchema)
        var seqs: [Int64] = []
        for run in try runs(in: db) {
            var writer = RunWriter.inserting(run: run, into: db)
            let rows = try Row.fetchCursor(db, sql: "SELECT subject_id, seqs FROM subject_runs WHERE run = ? ORDER BY subject_id",
                                           arguments: [run])
            while let row = try rows.next() {
                seqs.removeAll(keepingCapacity: true)
                try decodeGaps(Array(row[1] as Data), run: run, into: &seqs)
                guard !seqs.isEmpty, zip(seqs, seqs.dropFirst()).allSatisfy({ $0 < $1 }),
                      let subject = try? SubjectID(bytes: Array(row[0] as Data)) else {
                    throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the subject index holds an impossible entry")
                }
                try writer.add(subject, seqs: seqs)
            }
            try writer.finish()
        }
        try db.execute(sql: "DROP TABLE subject_runs")
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
    static func record(subjects: [SubjectID], firstSeq: Int64, in db: Database) throws {
        guard !subjects.isEmpty else { return }
        // The batch's positions by subject, each subject's in log order: a sort of (subject, offset) pairs.
        let order = subjects.indices.map { (subject: subjects[$0], offset: Int32($0)) }
            .sorted { $0.subject != $1.subject ? $0.subject < $1.subject : $0.offset < $1.offset }
        var writer = RunWriter.inserting(run: firstSeq, into: db)
        var seqs: [Int64] = []
        var start = 0
        while start < order.count {
            let subject = order[start].subject
            seqs.removeAll(keepingCapacity: true)
            var end = start
            while end < order.count, order[end].subject == subject {
                seqs.append(firstSeq + Int64(order[end].offset))
                end += 1
            }
            try writer.add(subject, seqs: seqs)
            start = end
        }
        try writer.finish()
        try listRun(firstSeq, level: 0, lastSeq: firstSeq + Int64(subjects.count) - 1, events: subjects.count, in: db)
        try compact(in: db)
    }

    /// Every log position of `subject`, ascending.
    package static func seqs(of subject: SubjectID, in db: Database) throws -> [Int64] {
        var out: [Int64] = [], seqs: [Int64] = []
        for run in try runs(in: db) {
            guard let chunk = try chunk(of: subject, in: run, db) else { continue }
            var decoder = ChunkDecoder(chunk.entries, run: run)
            while let entry = try decoder.next(into: &seqs), entry <= subject {
                if entry == subject {
                    out += seqs
                    break
                }
            }
        }
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

    /// Removes `subjects` from every run (erasure): the chunks that held them are
    /// written again without them (under their new first subject, so no key keeps
    /// an erased id). Returns how many entries went.
    @discardableResult
    package static func remove(_ subjects: [SubjectID], in db: Database) throws -> Int {
        var removed = 0, seqs: [Int64] = []
        for run in try runs(in: db) {
            for subject in subjects {
                guard let chunk = try chunk(of: subject, in: run, db) else { continue }
                var decoder = ChunkDecoder(chunk.entries, run: run)
                var kept: [(SubjectID, [Int64])] = [], count = 0
                while let entry = try decoder.next(into: &seqs) {
                    if entry == subject { count = seqs.count } else { kept.append((entry, seqs)) }
                }
                guard count > 0 else { continue }
                try db.execute(sql: "DELETE FROM subject_chunks WHERE run = ? AND first = ?", arguments: [run, Data(chunk.first.bytes)])
                var writer = RunWriter.inserting(run: run, into: db)
                for (entry, positions) in kept { try writer.add(entry, seqs: positions) }
                // One chunk in, at most one out: what was one chunk's worth stays one (the writer splits only past chunkBytes).
                try writer.finish()
                try db.execute(sql: "UPDATE subject_run_list SET events = events - ? WHERE run = ?", arguments: [count, run])
                removed += count
            }
        }
        return removed
    }

    /// Lists a run whose chunks are written.
    private static func listRun(_ run: Int64, level: Int, lastSeq: Int64, events: Int, in db: Database) throws {
        try db.execute(sql: "INSERT INTO subject_run_list(run, level, last_seq, events) VALUES (?, ?, ?, ?)",
                       arguments: [run, level, lastSeq, events])
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

    /// Replaces `runs` (oldest first) by one run of `level` holding the union of their entries:
    /// the runs are read side by side in subject order, and each subject's positions taken
    /// run by run (runs of a level cover consecutive stretches of the log, so they come ascending).
    /// The merged chunks are held until the runs are deleted (they are written under the first run's key).
    private static func merge(_ runs: [Int64], lastSeq: Int64, events: Int, into level: Int, in db: Database) throws {
        let readers = try runs.map { try RunReader(run: $0, in: db) }
        var chunks: [(first: SubjectID, entries: [UInt8])] = []
        var writer = RunWriter(run: runs[0]) { chunks.append(($0, $1)) }
        var merged: [Int64] = []
        while true {
            var next: SubjectID?
            for reader in readers {
                if let subject = reader.subject, next.map({ subject < $0 }) ?? true { next = subject }
            }
            guard let subject = next else { break }
            merged.removeAll(keepingCapacity: true)
            var ascending = true
            for reader in readers where reader.subject == subject {
                ascending = ascending && (merged.last.map { $0 < reader.seqs[0] } ?? true)
                merged += reader.seqs
                try reader.advance()
            }
            // Only a damaged index could overlap; its positions are still all kept.
            if !ascending { merged.sort() }
            try writer.add(subject, seqs: merged)
        }
        try writer.finish()
        for reader in readers { reader.close() }
        let list = runs.map(String.init).joined(separator: ", ")
        try db.execute(sql: "DELETE FROM subject_chunks WHERE run IN (\(list))")
        try db.execute(sql: "DELETE FROM subject_run_list WHERE run IN (\(list))")
        for chunk in chunks { try insertChunk(run: runs[0], first: chunk.first, entries: chunk.entries, in: db) }
        try listRun(runs[0], level: level, lastSeq: lastSeq, events: events, in: db)
    }

    /// Appends the positions `encoded` holds (varint gaps from `run`, as the runs of
    /// migrations v10 and v11 kept them) to `out`.
    static func decodeGaps(_ encoded: [UInt8], run: Int64, into out: inout [Int64]) throws {
        var previous = run, offset = 0
        while offset < encoded.count {
            previous += Int64(bitPattern: try readVarint(encoded, at: &offset))
            out.append(previous)
        }
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
        for run in runs {
            let reader = try RunReader(run: run, in: db)
            while let subject = reader.subject {
                try body(subject.bytes, reader.seqs)
                try reader.advance()
            }
        }
    }
}
