import CofferPublish
import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `coffer publish` (the built binary) killed with SIGKILL while it sends rows:
/// the next publish completes the copy, each person on the shards once.
struct PublishKillTests {
    @Test("SIGKILL mid-publish leaves a state the next publish completes")
    func killedPublish() throws {
        let servers = try LocalClickHouse(count: 2)
        var coffer = try CofferProcess()
        defer { coffer.cleanup() }
        coffer.environment[ClickHouseCredentials.userVariable] = LocalClickHouse.user
        coffer.environment[ClickHouseCredentials.passwordVariable] = LocalClickHouse.password
        #expect(try coffer.run(["demo", "--vault", coffer.vault, "--customers", "400"]).status == 0)
        #expect(try coffer.run(["project", "build", "--vault", coffer.vault, "--purpose", "marketing"]).status == 0)
        let arguments = ["publish", "--vault", coffer.vault, "--to", servers.urls[0], "--shard", servers.urls[1],
                         "--purpose", "marketing", "--database", "killed", "--chunk-rows", "5"]

        let process = coffer.makeProcess(arguments)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed once some rows are on the shards, before all are.
        let client = servers.client(0)
        let deadline = Date().addingTimeInterval(120)
        var sent = 0
        while Date() < deadline, process.isRunning {
            sent = (try? client.integer("SELECT count() FROM killed.marketing_single_view")) ?? 0
            if sent > 0 { break }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "publish finished before it could be killed")
        #expect(sent > 0)

        let again = try coffer.run(arguments)
        #expect(again.status == 0, "\(again.stderr)")
        let people = try #require(again.stdout.firstMatch(of: /: (\d+) people/).flatMap { Int($0.1) })
        let rows = try client.integer("SELECT count() FROM killed.marketing_single_view")
        let distinct = try client.integer("SELECT uniqExact(customer_id) FROM killed.marketing_single_view")
        #expect(rows == people && distinct == people && people > 100, "\(again.stdout)")
        let status = try coffer.run(["publish", "status", "--vault", coffer.vault])
        #expect(status.status == 0 && status.stdout.contains("No remote deletes are owed."), "\(status.stdout)")
    }
}
