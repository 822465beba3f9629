import Foundation
import Testing

/// `coffer request` as a compliance officer runs it.
@Suite(.serialized)
struct RequestCommandTests {
    @Test("export, erase with a receipt, verify both; the owner is refused; the register lists them")
    func requestWorkflow() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        #expect(try coffer.run(["init"] + vault).status == 0)
        let input = coffer.directory.appendingPathComponent("events.jsonl").path
        try """
            {"type":"identify","userId":"u1","timestamp":"2026-01-05T10:00:00Z","traits":{"email":"dana@example.com","firstName":"Dana","lastName":"Oyelaran-Whitcombe"}}
            {"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-01-06T10:00:00Z","properties":{"revenue":12.5}}
            {"type":"identify","userId":"u2","timestamp":"2026-01-05T11:00:00Z","traits":{"email":"eli@example.com"}}
            """.write(toFile: input, atomically: true, encoding: .utf8)
        #expect(try coffer.run(["ingest", input] + vault).status == 0)
        #expect(try coffer.run(["project", "build"] + vault).status == 0)
        #expect(try coffer.run(["actor", "add", "dpo", "--role", "compliance"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": "compliance passphrase"]).status == 0)
        let key = coffer.directory.appendingPathComponent("audit.key").path
        #expect(try coffer.run(["audit", "export-key", "--out", key] + vault).status == 0)

        let denied = try coffer.run(["request", "export", "--subject", "email:dana@example.com", "--out", "x.zip"] + vault)
        #expect(denied.status == 1)
        #expect(denied.stderr.contains("lacks the 'handle-requests' permission"), "\(denied.stderr)")

        let dpo = vault + ["--actor", "dpo"]
        let env = ["COFFER_PASSPHRASE": "compliance passphrase"]
        let bundle = coffer.directory.appendingPathComponent("dana.zip").path
        let export = try coffer.run(["request", "export", "--subject", "email:dana@example.com", "--out", bundle] + dpo, environment: env)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("Exported 2 events"), "\(export.stdout)")
        let verified = try coffer.run(["request", "verify", bundle, "--public-key", key])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("OK: export DSR-0001"), "\(verified.stdout)\(verified.stderr)")
        let again = try coffer.run(["request", "export", "--subject", "email:dana@example.com", "--out", bundle] + dpo, environment: env)
        #expect(again.status == 1 && again.stderr.contains("already exists"))

        let receipt = coffer.directory.appendingPathComponent("receipt.json").path
        let erase = try coffer.run(["request", "erase", "--subject", "email:dana@example.com", "--receipt", receipt] + dpo, environment: env)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(erase.stdout.contains("No-trace check: clean"), "\(erase.stdout)")
        #expect(try coffer.run(["request", "verify", receipt, "--public-key", key]).status == 0)
        var forged = try String(contentsOfFile: receipt, encoding: .utf8)
        let destroyed = try #require(forged.range(of: #""keysDestroyed" : [0-9]+"#, options: .regularExpression))
        forged.replaceSubrange(destroyed, with: #""keysDestroyed" : 0"#)
        try forged.write(toFile: receipt, atomically: true, encoding: .utf8)
        let refused = try coffer.run(["request", "verify", receipt, "--public-key", key])
        #expect(refused.status == 2 && refused.stdout.contains("FAILED"), "\(refused.stdout)")
        #expect(try coffer.run(["verify"] + vault).status == 0, "the log still verifies")
        let gone = try coffer.run(["request", "erase", "--subject", "email:dana@example.com"] + dpo, environment: env)
        // Issue 16: an erasure of an identifier nobody has is registered and answered, with a receipt.
        #expect(gone.status == 0 && gone.stdout.contains("No subject has that identifier (DSR-0003 registered)"), "\(gone.stdout)")
        #expect(gone.stdout.contains("No-trace check: clean"))

        let list = try coffer.run(["request", "list"] + dpo, environment: env)
        #expect(list.status == 0)
        #expect(list.stdout.contains("DSR-0001  export") && list.stdout.contains("DSR-0002  erase") && list.stdout.contains("DSR-0003  erase"),
                "\(list.stdout)")
        #expect(list.stdout.contains("3 requests, 0 open"))
        let badSet = try coffer.run(["request", "rectify", "--subject", "email:eli@example.com", "--set", "email=new@example.com"] + dpo,
                                    environment: env)
        #expect(badSet.status == 1 && badSet.stderr.contains("is an identifier"), "\(badSet.stderr)")
    }
}
