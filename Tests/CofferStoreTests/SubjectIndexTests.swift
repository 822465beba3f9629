import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport
import CofferFormats

/// Issue 22: the per-subject index kept as sorted runs (`SubjectIndex`).
struct SubjectIndexTests {
    /// A track event of `subject` whose payload holds `number`.
    private func track(_ subject: SubjectID, _ number: Int) -> NewEvent {
        NewEvent(subject: subject, kind: .track, payload: Array(#"{"n":\#(number)}"#.utf8), recordedAt: 1_700_000_000_000)
    }

    /// A random subject's positions in a log of `appends` appends of `batch` events each, over `subjects` subjects.
    private func fill(_ log: EventLog, subjects: [SubjectID], appends: Int, batch: Int) throws {
        var generator = SeededGenerator(seed: 22)
        for append in 0..<appends {
            let events = (0..<batch).map { offset in
                track(subjects[Int.random(in: 0..<subjects.count, using: &generator)], append * batch + offset)
            }
            try log.append(events)
        }
    }

    /// The entries of one run, in the order the run holds them.
    private func entries(of run: Int64, in db: Database) throws -> [(subject: SubjectID, seqs: [Int64])] {
        let reader = try SubjectIndex.RunReader(run: run, in: db)
        var out: [(subject: SubjectID, seqs: [Int64])] = []
        while let subject = reader.subject {
            out.append((subject, reader.seqs))
            try reader.advance()
        }
        return out
    }

    /// What an attacker with the database file can do: rewrite a run's chunks with `change`
    /// applied to each entry's positions (nil drops the entry).
    private func rewrite(run: Int64, in db: Database, _ change: (SubjectID, [Int64]) -> [Int64]?) throws {
        let old = try entries(of: run, in: db)
        try db.execute(sql: "DELETE FROM subject_chunks WHERE run = ?", arguments: [run])
        var writer = SubjectIndex.RunWriter(run: run) { first, bytes in
            try db.execute(sql: "INSERT INTO subject_chunks(run, first, entries) VALUES (?, ?, ?)",
                           arguments: [run, Data(first.bytes), Data(bytes)])
        }
        for (subject, seqs) in old { if let seqs = change(subject, seqs) { try writer.add(subject, seqs: seqs) } }
        try writer.finish()
    }

    /// Each subject's positions through the index are exactly its events in the log.
    private func expectIndexed(_ subjects: [SubjectID], in db: Database) throws {
        for subject in subjects {
            let expected = try Int64.fetchAll(db, sql: "SELECT seq FROM events WHERE subject_id = ? ORDER BY seq",
                                              arguments: [Data(subject.bytes)])
            #expect(try SubjectIndex.seqs(of: subject, in: db) == expected)
        }
    }

    @Test("runs merge level by level; every subject's positions are exactly its events, and each level keeps fewer than fanIn runs")
    func runsMerge() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<40).map { _ in try SubjectID.random() }
        // 8 × 8 + 3 appends: two merges into level 1 and one into level 2 on the way.
        try fill(log, subjects: subjects, appends: SubjectIndex.fanIn * SubjectIndex.fanIn + 3, batch: 25)
        try vault.database.read { db in
            #expect(try SubjectIndex.mismatch(in: db) == nil)
            let levels = try Row.fetchAll(db, sql: "SELECT level, count(*) FROM subject_run_list GROUP BY level ORDER BY level")
                .map { ($0[0] as Int, $0[1] as Int) }
            #expect(levels.map(\.0) == [0, 2], "\(levels)")
            #expect(levels.allSatisfy { $0.1 < SubjectIndex.fanIn })
            #expect(try Int.fetchOne(db, sql: "SELECT sum(events) FROM subject_run_list") == 67 * 25)
            // Each entry of a merged run lists its subject's positions once, ascending, inside the run's stretch of the log.
            for row in try Row.fetchAll(db, sql: "SELECT run, last_seq FROM subject_run_list") {
                let entries = try entries(of: row[0], in: db)
                #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.subject < $1.subject })
                for (_, seqs) in entries {
                    #expect(!seqs.isEmpty && zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
                    #expect(seqs.first! >= row[0] as Int64 && seqs.last! <= row[1] as Int64)
                }
            }
            // The old B-tree index on events is gone.
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'events_by_subject'") == 0)
            try expectIndexed(subjects, in: db)
        }
        // Reads through the index decrypt each subject's events in log order.
        let events = try log.events(of: subjects[3])
        #expect(!events.isEmpty && events.map(\.seq) == events.map(\.seq).sorted())
        #expect(events.allSatisfy { $0.subject == subjects[3] })
    }

    @Test("a subject removed from the runs (an erasure) stays out of every run merged afterwards; the others keep exactly their events")
    func removedStaysOutOfMerges() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<12).map { _ in try SubjectID.random() }
        try fill(log, subjects: subjects, appends: SubjectIndex.fanIn - 1, batch: 30)
        let removed = subjects[5]
        #expect(try vault.database.write { try SubjectIndex.remove([removed], in: $0) } > 0)
        // Enough appends for merges into levels 1 and 2 over runs that no longer hold it.
        try fill(log, subjects: subjects, appends: SubjectIndex.fanIn * SubjectIndex.fanIn, batch: 30)
        try vault.database.read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT max(level) FROM subject_run_list") == 2)
            let removedSince = try Int64.fetchAll(db, sql: "SELECT seq FROM events WHERE subject_id = ? AND seq > ? ORDER BY seq",
                                                  arguments: [Data(removed.bytes), Int64((SubjectIndex.fanIn - 1) * 30)])
            #expect(try SubjectIndex.seqs(of: removed, in: db) == removedSince, "only its events appended after the removal")
            try expectIndexed(subjects.filter { $0 != removed }, in: db)
        }
    }

    @Test("an append that rolls back (here after its merge) leaves the index as it was")
    func rolledBackMerge() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<10).map { _ in try SubjectID.random() }
        try fill(log, subjects: subjects, appends: SubjectIndex.fanIn - 1, batch: 10)
        let before = try vault.database.read { try Row.fetchAll($0, sql: "SELECT * FROM subject_chunks ORDER BY run, first") }
        struct Abort: Error {}
        // The eighth append merges level 0; the transaction then fails.
        #expect(throws: Abort.self) {
            try vault.database.write { db in
                _ = try log.append(sampleEvents(subjects: subjects, perSubject: 1), in: db)
                #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_run_list WHERE level = 1") == 1)
                throw Abort()
            }
        }
        let (after, mismatch) = try vault.database.read { db in
            (try Row.fetchAll(db, sql: "SELECT * FROM subject_chunks ORDER BY run, first"), try SubjectIndex.mismatch(in: db))
        }
        #expect(after == before)
        #expect(mismatch == nil)
    }

    @Test("a tampered index entry is refused, not followed to another subject's event")
    func tamperedEntry() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let (a, b) = (try SubjectID.random(), try SubjectID.random())
        try log.append(sampleEvents(subjects: [a, b], perSubject: 2))
        // The attacker points a's entry at b's first event.
        try temp.attacker().write { db in
            let bFirst = try #require(try Int64.fetchOne(db, sql: "SELECT min(seq) FROM events WHERE subject_id = ?", arguments: [Data(b.bytes)]))
            try rewrite(run: 1, in: db) { subject, seqs in subject == a ? [bFirst] : seqs }
        }
        #expect(throws: VaultError.self) { _ = try temp.unlock().eventLog().events(of: a) }
    }

    @Test("coffer verify finds an index entry removed or added behind Coffer's back")
    func verifyComparesIndex() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let (a, b) = (try SubjectID.random(), try SubjectID.random())
        try vault.eventLog().append(sampleEvents(subjects: [a, b], perSubject: 3))
        #expect(try LogVerifier.verify(layout: temp.layout).failure == nil)
        // Hiding a's events from an export: its entry goes.
        try temp.attacker().write { db in try rewrite(run: 1, in: db) { subject, seqs in subject == a ? nil : seqs } }
        let failure = try #require(try LogVerifier.verify(layout: temp.layout).failure)
        #expect(failure.reason.contains("subject index"), "\(failure.reason)")
    }

    @Test("a run of many subjects is packed into chunks; every subject is found, those opening a chunk and those inside one")
    func chunkedRuns() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<3_000).map { _ in try SubjectID.random() }
        // One append of 2 events per subject, then 4 more appends of one event for every third subject.
        try log.append(subjects.flatMap { subject in (0..<2).map { _ in track(subject, 1) } })
        for _ in 0..<4 {
            try log.append(subjects.enumerated().filter { $0.offset % 3 == 0 }.map { track($0.element, 2) })
        }
        try vault.database.read { db in
            let chunks = try Row.fetchAll(db, sql: "SELECT run, length(entries) FROM subject_chunks WHERE run = 1")
            // 3,000 entries of about 19 bytes: several chunks, none much past the target (an entry is never split).
            #expect(chunks.count >= 5, "\(chunks.count) chunks")
            #expect(chunks.allSatisfy { ($0[1] as Int) < SubjectIndex.chunkBytes + 64 })
            #expect(try entries(of: 1, in: db).map(\.subject) == subjects.sorted())
            try expectIndexed(subjects, in: db)
            #expect(try SubjectIndex.mismatch(in: db) == nil)
        }
    }

    @Test("migration v12 packs a vault's runs of one row per subject into chunks; every subject keeps exactly its events")
    func legacyRunsChunked() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<30).map { _ in try SubjectID.random() }
        // Merged runs and single ones: one of level 1 and three of level 0.
        try fill(log, subjects: subjects, appends: SubjectIndex.fanIn + 3, batch: 20)
        // The vault as migration v11 left it: a row per subject and run, its positions as varint gaps from the run.
        try temp.attacker().write { db in
            try db.execute(sql: """
                CREATE TABLE subject_runs (run INTEGER NOT NULL, subject_id BLOB NOT NULL, seqs BLOB NOT NULL,
                    PRIMARY KEY (run, subject_id)) WITHOUT ROWID
                """)
            for run in try Int64.fetchAll(db, sql: "SELECT run FROM subject_run_list") {
                for (subject, seqs) in try entries(of: run, in: db) {
                    var bytes: [UInt8] = [], previous = run
                    for seq in seqs {
                        var gap = UInt64(seq - previous)
                        previous = seq
                        while gap >= 0x80 { bytes.append(UInt8(gap & 0x7F) | 0x80); gap >>= 7 }
                        bytes.append(UInt8(gap))
                    }
                    try db.execute(sql: "INSERT INTO subject_runs VALUES (?, ?, ?)", arguments: [run, Data(subject.bytes), Data(bytes)])
                }
            }
            try db.execute(sql: "DROP TABLE subject_chunks")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v12:%'")
        }
        let reopened = try temp.unlock()
        try reopened.database.read { db in
            #expect(try !db.tableExists("subject_runs"))
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_chunks") == 4)
            #expect(try SubjectIndex.mismatch(in: db) == nil)
            try expectIndexed(subjects, in: db)
        }
        #expect(try LogVerifier.verify(layout: temp.layout).failure == nil)
    }

    @Test("an erasure rewrites the chunk that held the subject: no chunk is filed under its id, its neighbours keep their events")
    func removalRekeysChunk() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<2_000).map { _ in try SubjectID.random() }.sorted()
        try log.append(subjects.map { track($0, 1) })
        let (firsts, count) = try vault.database.read { db in
            (try Data.fetchAll(db, sql: "SELECT first FROM subject_chunks ORDER BY first").map { try SubjectID(bytes: Array($0)) },
             try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_chunks"))
        }
        // A subject that opens a chunk (the second) and one inside a chunk.
        let opening = firsts[1], inside = subjects[subjects.firstIndex(of: opening)! + 5]
        #expect(try vault.database.write { try SubjectIndex.remove([opening, inside], in: $0) } == 2)
        try vault.database.read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_chunks") == count)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_chunks WHERE first = ?", arguments: [Data(opening.bytes)]) == 0)
            #expect(try SubjectIndex.seqs(of: opening, in: db).isEmpty && SubjectIndex.seqs(of: inside, in: db).isEmpty)
            try expectIndexed(subjects.filter { $0 != opening && $0 != inside }, in: db)
            #expect(try Int.fetchOne(db, sql: "SELECT events FROM subject_run_list") == subjects.count - 2)
        }
    }

    @Test("a chunk filed under another subject than its first, or cut short, is refused when read")
    func damagedChunkRefused() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let (a, b) = (try SubjectID.random(), try SubjectID.random())
        try vault.eventLog().append(sampleEvents(subjects: [a, b], perSubject: 3))
        try temp.attacker().write { db in
            try db.execute(sql: "UPDATE subject_chunks SET first = ?", arguments: [Data([UInt8](repeating: 0, count: 16))])
        }
        #expect(throws: VaultError.self) { _ = try temp.unlock().database.read { try SubjectIndex.mismatch(in: $0) } }
        try temp.attacker().write { db in
            // Filed under its first subject again, but cut inside that entry's positions.
            try db.execute(sql: "UPDATE subject_chunks SET first = ?, entries = substr(entries, 1, 18)",
                           arguments: [Data(min(a, b).bytes)])
        }
        #expect(throws: VaultError.self) { _ = try temp.unlock().database.read { try SubjectIndex.mismatch(in: $0) } }
    }
}
