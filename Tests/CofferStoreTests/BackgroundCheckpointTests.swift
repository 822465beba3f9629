@testable import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// Issue 22: the write-ahead log copied into the database on a thread of its own during long writes.
struct BackgroundCheckpointTests {
    @Test("checkpoints run on their own connection after commits; the log verifies; the writer's threshold is raised meanwhile and given back")
    func checkpointsBesideTheWriter() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let log = try vault.eventLog()
        let subjects = try (0..<20).map { _ in try SubjectID.random() }
        func threshold() throws -> Int? { try vault.database.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") } }
        #expect(try threshold() == BackgroundCheckpoints.writerThreshold.after)
        let checkpoints = try BackgroundCheckpoints(vault: vault)
        #expect(try threshold() == BackgroundCheckpoints.writerThreshold.during)
        for batch in 0..<30 {
            try log.append((0..<50).map { i in
                NewEvent(subject: subjects[(batch + i) % subjects.count], kind: .track,
                         payload: Array(#"{"n":\#(batch * 50 + i)}"#.utf8), recordedAt: 1_700_000_000_000 + Int64(i))
            })
            checkpoints.committed()
            // Give the thread a moment now and then, as a writer's next batch does.
            if batch % 5 == 4 { Thread.sleep(forTimeInterval: 0.05) }
        }
        checkpoints.stop()
        #expect(checkpoints.checkpoints >= 1)
        #expect(try threshold() == BackgroundCheckpoints.writerThreshold.after)
        // Whatever the thread copied, the database reads whole: 1,500 events, chain and index intact.
        let report = try LogVerifier.verify(layout: temp.layout)
        #expect(report.isValid)
        #expect(try log.count() == 1_500)
        #expect(try vault.database.read { try SubjectIndex.mismatch(in: $0) } == nil)
    }

    @Test("`during` starts checkpoints at the second commit, and stops them, giving the writer its threshold back, when the body throws")
    func stopsOnThrow() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        func threshold() throws -> Int? { try vault.database.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") } }
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try BackgroundCheckpoints.during(vault) { committed in
                for n in 0..<2 {
                    try vault.eventLog().append([NewEvent(subject: try SubjectID.random(), kind: .track, payload: Array("{}".utf8),
                                                          recordedAt: 1_700_000_000_000 + Int64(n))])
                    committed()
                    let expected = n == 0 ? BackgroundCheckpoints.writerThreshold.after : BackgroundCheckpoints.writerThreshold.during
                    #expect(try threshold() == expected)
                }
                throw Stop()
            }
        }
        #expect(try threshold() == BackgroundCheckpoints.writerThreshold.after)
        #expect(try LogVerifier.verify(layout: temp.layout).isValid)
    }
}
