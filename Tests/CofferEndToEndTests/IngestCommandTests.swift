import Foundation
import Testing

/// `coffer ingest`, `demo`, `subject show` and `quarantine` as a user runs them.
@Suite(.serialized)
struct IngestCommandTests {
    @Test("ingest: counts on stdout, bad records quarantined, exit 0; an unreadable file exits 1 with one line")
    func ingest() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        #expect(try coffer.run(["init", "--vault", coffer.vault]).status == 0)
        let file = coffer.directory.appendingPathComponent("events.jsonl")
        try """
            {"type":"identify","userId":"u1","traits":{"email":"Dana@Example.com"},"timestamp":"2026-01-01T00:00:00Z"}
            {"type":"track","event":"Order Completed","timestamp":"2026-01-01T00:00:00Z"}
            {"type":"track","userId":"u1","event":"Order Completed","timestamp":"2026-01-02T00:00:00Z"}
            """.write(to: file, atomically: true, encoding: .utf8)
        let result = try coffer.run(["ingest", file.path, "--vault", coffer.vault])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("accepted 2, duplicate 0, quarantined 1"))
        #expect(result.stdout.contains("quarantined 1× missing userId and anonymousId"))
        #expect(!result.stdout.contains("\u{1B}[") && !result.stderr.contains("\u{1B}["), "terminal codes when not a TTY")

        let list = try coffer.run(["quarantine", "list", "--vault", coffer.vault])
        #expect(list.stdout.contains("events.jsonl:2"))
        #expect(list.stdout.contains("missing userId and anonymousId"))
        #expect(!list.stdout.contains("Order Completed"))  // contents only with --show-records

        let show = try coffer.run(["subject", "show", "email:dana@example.com", "--vault", coffer.vault])
        #expect(show.status == 0)
        #expect(show.stdout.contains("email:dana@example.com") && show.stdout.contains("user:u1"))
        #expect(show.stdout.contains("track: 1"))

        let missing = try coffer.run(["ingest", coffer.directory.appendingPathComponent("nope.jsonl").path, "--vault", coffer.vault])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("coffer: error: cannot read"))
        #expect(missing.stderr.split(separator: "\n").count == 1)

        let bad = try coffer.run(["subject", "show", "passport:123", "--vault", coffer.vault])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("is not an identifier"))
    }

    @Test("demo creates the vault, ingests, verifies; a second run adds nothing")
    func demoTwice() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let first = try coffer.run(["demo", "--vault", coffer.vault, "--customers", "30"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Created vault"))
        #expect(first.stdout.contains("Log verified:"))
        #expect(first.stdout.contains("One customer, as the owner sees them"))
        let second = try coffer.run(["demo", "--vault", coffer.vault, "--customers", "30"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("accepted 0,"))
        #expect(!second.stdout.contains("Created vault"))
    }
}
