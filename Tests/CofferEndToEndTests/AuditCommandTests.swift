import Foundation
import GRDB
import Testing

/// The audit trail as commands leave it, and as an auditor reads and verifies it.
@Suite(.serialized)
struct AuditCommandTests {
    /// `(seq, action, decision)` of every entry, read without any key (those columns are in clear).
    func entries(_ coffer: CofferCommand) throws -> [(Int64, String, String)] {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: coffer.vault + "/audit.sqlite", configuration: config)
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, action, decision FROM entries ORDER BY seq").map { ($0[0], $0[1], $0[2]) }
        }
    }

    @Test("every command that reads or changes customer data leaves exactly one audit entry; denials are recorded")
    func oneEntryPerCommand() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        #expect(try coffer.run(["init"] + vault).status == 0)
        let input = coffer.directory.appendingPathComponent("in.jsonl").path
        try """
            {"type":"identify","userId":"u1","traits":{"email":"ann@example.com"},"timestamp":"2026-06-01T00:00:00Z"}
            {"type":"track","userId":"u1","timestamp":"2026-06-01T00:00:00Z"}
            not json
            """.write(toFile: input, atomically: true, encoding: .utf8)
        // The first command under the policy also records the policy's hash once.
        #expect(try coffer.run(["ingest", input] + vault).status == 0)
        // init records the vault's policy (policy-apply, issue 16); the first command under it notes its hash once.
        #expect(try entries(coffer).map(\.1) == ["vault-init", "policy-apply", "policy-load", "ingest"])

        let table: [([String], String)] = [
            (["subject", "show", "email:ann@example.com"], "subject-show"),
            (["subject", "show", "email:nobody@example.com"], "subject-show"),
            (["consent", "show", "--subject", "user:u1"], "consent-show"),
            (["quarantine", "list"], "quarantine-list"),
            (["quarantine", "list", "--show-records"], "quarantine-list"),
            (["consent", "grant", "--subject", "user:u1", "--purpose", "marketing"], "consent-record"),
            (["consent", "revoke", "--subject", "user:u1", "--purpose", "marketing"], "consent-record"),
            (["ingest", input], "ingest"),
        ]
        for (args, action) in table {
            let before = try entries(coffer).count
            let result = try coffer.run(args + vault)
            #expect(result.status == 0 || args.contains("email:nobody@example.com"), "\(args): \(result.stderr)")
            let added = Array(try entries(coffer).dropFirst(before))
            #expect(added.count == 1, "\(args) left \(added.count) entries")
            #expect(added.first?.1 == action && added.first?.2 == "allowed", "\(args): \(added)")
        }

        // A denied command is one denied entry.
        #expect(try coffer.run(["actor", "add", "alice", "--role", "analyst"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": "alice passphrase"]).status == 0)
        let before = try entries(coffer).count
        let denied = try coffer.run(["consent", "show", "--subject", "user:u1", "--actor", "alice"] + vault,
                                    environment: ["COFFER_PASSPHRASE": "alice passphrase"])
        #expect(denied.status == 1)
        let added = Array(try entries(coffer).dropFirst(before))
        #expect(added.map(\.1) == ["consent-show"] && added.map(\.2) == ["denied"])
    }

    @Test("an auditor lists and verifies the trail with the exported key, and catches a truncated tail")
    func auditorWorkflow() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        #expect(try coffer.run(["init"] + vault).status == 0)
        #expect(try coffer.run(["actor", "add", "audrey", "--role", "auditor"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": "auditor passphrase"]).status == 0)
        #expect(try coffer.run(["subject", "show", "email:x@example.com"] + vault).status == 1)
        let asAuditor = vault + ["--actor", "audrey"]
        let auditorEnv = ["COFFER_PASSPHRASE": "auditor passphrase"]
        let key = coffer.directory.appendingPathComponent("audit.key").path
        #expect(try coffer.run(["audit", "export-key", "--out", key] + asAuditor, environment: auditorEnv).status == 0)

        let log = try coffer.run(["audit", "log", "--format", "json"] + asAuditor, environment: auditorEnv)
        #expect(log.status == 0, "\(log.stderr)")
        let objects = try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]]
        #expect(objects?.map { $0["action"] as? String } == ["vault-init", "policy-apply", "actor-add", "subject-show"])
        let csv = try coffer.run(["audit", "log", "--format", "csv", "--action", "actor-add"] + asAuditor, environment: auditorEnv)
        #expect(csv.stdout.split(separator: "\n").count == 2 && csv.stdout.contains("actor:audrey"))

        let denied = try coffer.run(["subject", "show", "email:x@example.com"] + asAuditor, environment: auditorEnv)
        #expect(denied.status == 1 && denied.stderr.contains("lacks the 'read-subjects' permission"))
        let deniedLog = try coffer.run(["audit", "log", "--decision", "denied", "--format", "csv"] + asAuditor, environment: auditorEnv)
        #expect(deniedLog.stdout.contains("audrey,auditor,subject-show,denied"))

        let head = coffer.directory.appendingPathComponent("head").path
        let verified = try coffer.run(["audit", "verify", "--public-key", key, "--write-head", head] + vault, environment: ["COFFER_PASSPHRASE": ""])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(verified.stdout.hasPrefix("OK: 5 audit entries, chain intact, 4 signed"))

        // Truncate the tail behind coffer's back.
        let queue = try DatabaseQueue(path: coffer.vault + "/audit.sqlite")
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER entries_no_delete")
            try db.execute(sql: "DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries)")
        }
        try queue.close()
        let truncated = try coffer.run(["audit", "verify", "--public-key", key, "--expect-head", head] + vault)
        #expect(truncated.status == 2)
        #expect(truncated.stdout.contains("FAILED: audit entry 5: truncated"))
    }

    @Test("audit log refuses to show a ledger that does not verify (issue 15)")
    func tamperedLedgerIsNotShown() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        #expect(try coffer.run(["init"] + vault).status == 0)
        for _ in 0..<3 { _ = try coffer.run(["subject", "show", "email:nobody@example.com"] + vault) }  // audited reads
        #expect(try entries(coffer).count >= 4)
        // An entry taken out of the middle: every other entry still decrypts, the chain does not hold.
        let queue = try DatabaseQueue(path: coffer.vault + "/audit.sqlite")
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER entries_no_delete")
            try db.execute(sql: "DELETE FROM entries WHERE seq = (SELECT max(seq) - 1 FROM entries)")
        }
        try queue.close()
        let shown = try coffer.run(["audit", "log"] + vault)
        #expect(shown.status == 2)
        #expect(shown.stderr.hasPrefix("coffer: error: the audit ledger does not verify at entry"), "\(shown.stderr)")
        #expect(!shown.stdout.contains("vault-init"), "no entry is shown")
    }
}
