import Foundation
import GRDB

/// Copies the write-ahead log into the database on a thread of its own while
/// a long run of write transactions (a file ingest, the inbox drain, `bench
/// append`) goes on, instead of inside the commit that crosses SQLite's
/// threshold: that copy was an eighth of an ingest's writing thread.
///
/// After each commit the writer calls `committed()`; the checkpoint thread then
/// runs a passive checkpoint on a connection of its own, while the writer works
/// out its next batch (which touches the log only when it commits). Meanwhile
/// the writer's own threshold is raised fourfold, so should the thread fall
/// behind, the writer still checkpoints as before and the log stays bounded.
/// Checkpoints are SQLite's own: a kill at any moment leaves the database and
/// its log as consistent as without this.
package final class BackgroundCheckpoints: @unchecked Sendable {
    /// The writer's threshold (pages) while checkpoints run here, and as restored afterwards.
    static let writerThreshold = (during: 65_536, after: 16_384)

    private let writer: DatabaseQueue
    private let connection: DatabaseQueue
    private let condition = NSCondition()
    private var pending = false
    private var stopping = false
    private var finished = false
    private var completed = 0

    /// Starts the checkpoint thread on a second connection to `vault`'s database.
    package init(vault: Vault) throws {
        writer = vault.database
        var configuration = VaultDatabase.configuration(readOnly: false, cacheKiB: 2048)
        configuration.label = "coffer-checkpoints"
        connection = try DatabaseQueue(path: vault.layout.database.path, configuration: configuration)
        try writer.writeWithoutTransaction {
            try $0.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerThreshold.during)")
        }
        Thread.detachNewThread { [self] in run() }
    }

    /// A write transaction committed: checkpoint what the log holds (once, however many commits came meanwhile).
    package func committed() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    /// How many checkpoints the thread has run (tests, benchmarks).
    package var checkpoints: Int {
        condition.lock()
        defer { condition.unlock() }
        return completed
    }

    /// Waits for the thread's checkpoint in progress, ends the thread and gives the
    /// writer its own threshold back. Call once, when the writes are done.
    package func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
        try? writer.writeWithoutTransaction {
            try $0.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerThreshold.after)")
        }
    }

    private func run() {
        condition.lock()
        while true {
            while !pending && !stopping { condition.wait() }
            if stopping { break }
            pending = false
            condition.unlock()
            // Passive: never waits for the writer and never blocks it. Busy or failing, the
            // next commit asks again, and the writer's own threshold stays as the backstop.
            let ran = (try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }) != nil
            condition.lock()
            if ran { completed += 1 }
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}

extension BackgroundCheckpoints {
    /// Runs `body`, handing it what to call after each commit; from the second commit on
    /// (a write of one transaction gains nothing from a second connection) checkpoints run on
    /// their own thread, stopped when `body` returns or throws. Should the second connection
    /// not open, the writer goes on checkpointing as before.
    package static func during<Result>(_ vault: Vault, _ body: (_ committed: () -> Void) throws -> Result) rethrows -> Result {
        var commits = 0
        var checkpoints: BackgroundCheckpoints?
        defer { checkpoints?.stop() }
        return try body {
            commits += 1
            if commits == 2 { checkpoints = try? BackgroundCheckpoints(vault: vault) }
            checkpoints?.committed()
        }
    }
}
