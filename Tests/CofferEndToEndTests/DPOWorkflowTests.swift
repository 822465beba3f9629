import Foundation
import Testing

/// Issue 16, item 6: the DPO's workflow from the command line.
@Suite(.serialized)
struct DPOWorkflowTests {
    @Test("request list names the person; compliance reads the support projection; keys are named one way; a wrong pinned key is not called tampering")
    func dpoWorkflow() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        let env = ["COFFER_NEW_PASSPHRASE": coffer.environment["COFFER_PASSPHRASE"]!]
        #expect(try coffer.run(["init"] + vault).status == 0)
        let input = coffer.directory.appendingPathComponent("in.jsonl").path
        try """
            {"type":"identify","userId":"u1","traits":{"email":"dana@example.com","lastName":"Old"},"timestamp":"2026-01-01T00:00:00Z"}
            {"type":"identify","userId":"u2","traits":{"email":"eli@example.com"},"timestamp":"2026-01-01T00:00:00Z"}
            """.write(toFile: input, atomically: true, encoding: .utf8)
        #expect(try coffer.run(["ingest", input] + vault).status == 0)
        #expect(try coffer.run(["actor", "add", "dpo", "--role", "compliance"] + vault, environment: env).status == 0)
        let dpo = ["--actor", "dpo"] + vault

        // The person a request is about, and a late extension that is said to be late.
        #expect(try coffer.run(["request", "open", "--type", "export", "--subject", "email:dana@example.com",
                                "--received", "2025-01-02"] + dpo).status == 0)
        let list = try coffer.run(["request", "list"] + dpo)
        #expect(list.stdout.contains("email:dana@example.com") && list.stdout.contains("OVERDUE"), "\(list.stdout)")
        let extended = try coffer.run(["request", "extend", "DSR-0001", "--months", "1", "--reason", "complex"] + dpo)
        #expect(extended.status == 0, "\(extended.stderr)")
        #expect(extended.stderr.contains("warning: DSR-0001 was already past its due date"), "\(extended.stderr)")

        // A rectification, checked by the DPO in the support projection.
        #expect(try coffer.run(["request", "rectify", "--subject", "email:dana@example.com", "--set", "last_name=New"] + dpo).status == 0)
        #expect(try coffer.run(["project", "build"] + vault).status == 0)
        let view = try coffer.run(["view", "--subject", "email:dana@example.com", "--purpose", "support"] + dpo)
        #expect(view.status == 0 && view.stdout.contains("New") && !view.stdout.contains("Old"), "\(view.stdout) \(view.stderr)")

        // One fingerprint format, and a wrong pinned key called a key mismatch, not damage.
        let checkpointKey = coffer.directory.appendingPathComponent("checkpoint.key").path
        let auditKey = coffer.directory.appendingPathComponent("audit.key").path
        let exported = try coffer.run(["verify", "export-key", "--out", checkpointKey] + vault)
        #expect(try coffer.run(["audit", "export-key", "--out", auditKey] + vault).status == 0)
        let verified = try coffer.run(["verify", "--public-key", checkpointKey] + vault)
        #expect(verified.status == 0)
        let fingerprint = try #require(exported.stdout.split(separator: " ").dropFirst(3).first)
        #expect(verified.stdout.contains("(key \(fingerprint))"), "\(exported.stdout) / \(verified.stdout)")
        let wrong = try coffer.run(["verify", "--public-key", auditKey] + vault)
        #expect(wrong.status == 2 && wrong.stdout.hasPrefix("KEY MISMATCH: the pinned key"), "\(wrong.stdout)")
        #expect(!wrong.stdout.contains("FAILED"))
        let wrongAudit = try coffer.run(["audit", "verify", "--public-key", checkpointKey] + vault)
        #expect(wrongAudit.status == 2 && wrongAudit.stdout.hasPrefix("KEY MISMATCH"), "\(wrongAudit.stdout)")
    }
}
