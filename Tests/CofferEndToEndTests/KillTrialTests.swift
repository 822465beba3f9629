import CofferCrypto
import CofferStore
import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15: `kill -9` at several points of an import, a build and an erasure.
/// After each, the vault opens and verifies, and once the command is run again
/// to the end every record is there exactly once.
@Suite(.serialized)
struct KillTrialTests {
    static let users = 2_000, perUser = 8

    /// Segment events with message ids (and a consent on each user's first), as a file.
    static func input(_ coffer: CofferProcess) throws -> String {
        var lines: [String] = []
        for user in 0..<users {
            lines.append(#"{"type":"identify","userId":"k\#(user)","messageId":"k\#(user)-0","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"k\#(user)@example.com","age":\#(20 + user % 50)},"context":{"consent":{"categoryPreferences":{"marketing":\#(user % 3 != 0)}}}}"#)
            for event in 1..<perUser {
                lines.append(#"{"type":"track","userId":"k\#(user)","messageId":"k\#(user)-\#(event)","event":"Order Completed","timestamp":"2026-01-0\#(1 + event % 9)T10:00:00Z","properties":{"revenue":\#(event).5}}"#)
            }
        }
        let path = coffer.directory.appendingPathComponent("kill.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `args` and kills it with SIGKILL after `delay` seconds, unless it finished first.
    /// - Returns: whether it was killed.
    @discardableResult
    static func killed(_ coffer: CofferProcess, _ args: [String], after delay: Double) throws -> Bool {
        let process = coffer.makeProcess(args)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(delay)
        while process.isRunning, Date() < deadline { usleep(2_000) }
        let wasRunning = process.isRunning
        if wasRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return wasRunning && process.terminationReason == .uncaughtSignal
    }

    static func verify(_ coffer: CofferProcess) throws {
        let result = try coffer.run(["verify", "--state", "--vault", coffer.vault])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
    }

    func unlock(_ coffer: CofferProcess) throws -> Vault {
        try Vault.unlock(layout: VaultLayout(directory: URL(fileURLWithPath: coffer.vault)),
                         passphrase: SecureBytes(Array(coffer.environment["COFFER_PASSPHRASE"]!.utf8)))
    }

    @Test("imports, builds and erasures killed at several points: the vault verifies, nothing is lost or doubled")
    func killTrials() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        // Set up in-process, with cheap keys: the dozens of processes below each unlock the vault.
        #expect(coffer.runInProcess(["init"] + vault).status == 0)
        let input = try Self.input(coffer)

        // Import: killed early, mid-way and late, each time on what the last one left.
        var kills = 0
        for delay in [0.3, 0.8, 1.5, 2.5] {
            if try Self.killed(coffer, ["ingest", input, "--batch", "1000"] + vault, after: delay) { kills += 1 }
            try Self.verify(coffer)
        }
        #expect(kills >= 2, "at least two imports were cut off")
        let finish = try coffer.run(["ingest", input] + vault)
        #expect(finish.status == 0, "\(finish.stderr)")
        let again = try coffer.run(["ingest", input] + vault)
        #expect(again.stdout.contains("accepted 0, duplicate \(Self.users * Self.perUser)"), "\(again.stdout)")
        try Self.verify(coffer)
        let counts = try unlock(coffer).database.read { db in
            try Row.fetchAll(db, sql: "SELECT kind, count(*) FROM events GROUP BY kind").reduce(into: [String: Int]()) {
                $0[$1[0] as String] = $1[1] as Int
            }
        }
        #expect(counts["identify"] == Self.users, "every identify once")
        #expect(counts["track"] == Self.users * (Self.perUser - 1), "every purchase once")
        #expect(counts["consent"] == Self.users, "one consent decision per user")

        // Build: killed at several points; the next build completes, leaves no temporary file, and reads.
        for delay in [0.2, 0.6, 1.2] {
            try Self.killed(coffer, ["project", "build", "--full"] + vault, after: delay)
            try Self.verify(coffer)
        }
        #expect(try coffer.run(["project", "build"] + vault).status == 0)
        let projections = URL(fileURLWithPath: coffer.vault).appendingPathComponent("projections")
        #expect(try FileManager.default.contentsOfDirectory(atPath: projections.path).allSatisfy { !$0.contains(".tmp-") })
        let query = try coffer.run(["query", "--purpose", "analytics", "SELECT count(*) FROM single_view", "--format", "csv"] + vault)
        #expect(query.stdout.contains("\(Self.users)"), "\(query.stdout) \(query.stderr)")

        // Erasure: killed at several points, then run again; the person is gone and the log verifies.
        let dpo = ["--actor", "dpo"]
        #expect(coffer.runInProcess(["actor", "add", "dpo", "--role", "compliance"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": coffer.environment["COFFER_PASSPHRASE"]!]).status == 0)
        for (index, delay) in [0.05, 0.15, 0.3].enumerated() {
            let subject = "email:k\(index)@example.com"
            try Self.killed(coffer, ["request", "erase", "--subject", subject] + dpo + vault, after: delay)
            try Self.verify(coffer)
            // An erasure cut off is finished through its request (after the shred the identifier resolves no more).
            let listed = try coffer.run(["request", "list"] + dpo + vault)
            let open = listed.stdout.split(separator: "\n").first { $0.contains(" erase ") && $0.contains(" open") }
            let rerun = try coffer.run(["request", "erase"] + (open.map { ["--request", String($0.prefix(8))] } ?? ["--subject", subject])
                + dpo + vault)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let after = try coffer.run(["request", "list"] + dpo + vault)
            #expect(after.stdout.contains(" 0 open"), "\(after.stdout)")
            let shown = try coffer.run(["subject", "show", subject] + vault)
            #expect(!shown.stdout.contains("k\(index)@example.com") || shown.stdout.contains("no subject"), "\(shown.stdout)")
            try Self.verify(coffer)
        }
        #expect(try coffer.run(["project", "build"] + vault).status == 0)
        let after = try coffer.run(["query", "--purpose", "analytics", "SELECT count(*) FROM single_view", "--format", "csv"] + vault)
        #expect(after.stdout.contains("\(Self.users - 3)"), "\(after.stdout) \(after.stderr)")
    }
}
