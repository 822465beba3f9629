import CofferProjection
package import CofferStore
import Dispatch
import GRDB
import Synchronization

/// What reading the log costs before anything is folded: every event a full build reads,
/// fetched from SQLite, decrypted and authenticated with its subject's key, on as many
/// threads as the build reads with and split as it splits the log (by ranges), then dropped.
/// `bench project --csv` times it beside the build, so that the build's read can be told
/// apart into the floor the sealed log sets and the fold's own cost.
package enum LogOpenFloor {
    package struct Result: Sendable {
        package var events: Int
        package var seconds: Double
        package var threads: Int
    }

    package static func measure(_ vault: Vault) throws -> Result {
        let lastSeq = try vault.database.read { try Int64.fetchOne($0, sql: "SELECT max(seq) FROM events") ?? 0 }
        let threads = ProjectionBuilder.readThreads(events: lastSeq)
        let bounds = (0...threads).map { lastSeq * Int64($0) / Int64(threads) }
        let keys = SubjectKeyCache()
        let readers = try (0..<threads).map { _ in Reader(log: try vault.logReader()) }
        let counts = Mutex([Int](repeating: 0, count: threads))
        let failure = Mutex<(any Error)?>(nil)
        let clock = Stopwatch()
        DispatchQueue.concurrentPerform(iterations: threads) { index in
            do {
                let log = readers[index].log
                var events = 0
                try log.database.read { db in
                    try log.scan(kinds: ProjectionBuilder.kinds, afterSeq: bounds[index], throughSeq: bounds[index + 1], in: db,
                                 sharedKeys: keys) { _ in events += 1 }
                }
                counts.withLock { $0[index] = events }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        let seconds = clock.elapsed
        if let error = failure.withLock({ $0 }) { throw error }
        return Result(events: counts.withLock { $0.reduce(0, +) }, seconds: seconds, threads: threads)
    }

    /// One thread's log connection, used by that thread alone.
    private struct Reader: @unchecked Sendable {
        let log: EventLog
    }
}
