import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport
import CofferFormats

/// Issue 22: the per-subject index kept as sorted runs (`SubjectIndex`).
struct SubjectIndexTests {
    /// A random subject's positions in a log of `appends` appends of `batch` events each, over `subjects` subjects.
    private func fill(_ log: EventLog, subjects: [SubjectID], appends: Int, batch: Int) throws {
        var generator = SeededGenerator(seed: 22)
        for append in 0..<appends {
            let events = (0..<batch).map { offset in
                NewEvent(subject: subjects[Int.random(in: 0..<subjects.count, using: &generator)], kind: .track,
                         payload: Array(#"{"n":\#(append * batch + offset)}"#.utf8), recordedAt: 1_700_000_000_000)
            }
            try log.append(events)
        }
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
            for row in try Row.fetchAll(db, sql: "SELECT r.run, r.seqs, l.last_seq FROM subject_runs r JOIN subject_run_list l USING (run)") {
                var seqs: [Int64] = []
                try SubjectIndex.decode(Array(row[1] as Data), run: row[0], into: &seqs)
                #expect(!seqs.isEmpty && zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
                #expect(seqs.first! >= row[0] as Int64 && seqs.last! <= row[2] as Int64)
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
        let before = try vault.database.read { try Row.fetchAll($0, sql: "SELECT * FROM subject_runs ORDER BY run, subject_id") }
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
            (try Row.fetchAll(db, sql: "SELECT * FROM subject_runs ORDER BY run, subject_id"), try SubjectIndex.mismatch(in: db))
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
        // The attacker points a's entry at b's first event (position 2: a gap of 1 from the run's first position).
        try temp.attacker().write { db in
            try db.execute(sql: "UPDATE subject_runs SET seqs = ? WHERE subject_id = ?", arguments: [Data([1]), Data(a.bytes)])
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
        try temp.attacker().write { try $0.execute(sql: "DELETE FROM subject_runs WHERE subject_id = ?", arguments: [Data(a.bytes)]) }
        let failure = try #require(try LogVerifier.verify(layout: temp.layout).failure)
        #expect(failure.reason.contains("subject index"), "\(failure.reason)")
    }
}
