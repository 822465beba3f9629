import Foundation
import Testing

/// `coffer policy`, `coffer actor`, `coffer consent` as a user runs them.
@Suite(.serialized)
struct PolicyAndActorCommandTests {
    @Test("policy check: ok for the shipped policy; file:line and status 1 for a broken one")
    func policyCheck() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let ok = try coffer.run(["policy", "check"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("ok — policy 'cafe-default'"))

        let broken = coffer.directory.appendingPathComponent("broken.yaml").path
        let text = try String(contentsOfFile: CofferProcess.defaultPolicy, encoding: .utf8)
            .replacingOccurrences(of: "        sensitive: deny\n", with: "        sensitive: shred\n")
        try text.write(toFile: broken, atomically: true, encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("sensitive: shred") }! + 1
        let refused = try coffer.run(["policy", "check", broken])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("coffer: error: policy error: \(broken):\(line):"), "\(refused.stderr)")
        #expect(refused.stderr.contains("unknown transform 'shred'"))
        #expect(refused.stderr.split(separator: "\n").count == 1)

        let missing = try coffer.run(["policy", "check"], environment: ["COFFER_POLICY": "nowhere.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nowhere.yaml: no policy file here"))
    }

    @Test("policy explain prints the field access table")
    func policyExplain() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let table = try coffer.run(["policy", "explain", "--role", "analyst", "--purpose", "marketing"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("email ") && $0.hasSuffix("tokenise") })
        #expect(lines.contains { $0.hasPrefix("age ") && $0.hasSuffix("generalise (band 10)") })
        #expect(lines.contains { $0.hasPrefix("health_notes ") && $0.contains("deny") })
        #expect(table.stdout.contains("lawful basis consent"))
        let unknown = try coffer.run(["policy", "explain", "--role", "analyst", "--purpose", "sales"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("purpose 'sales' is not declared"))
    }

    @Test("actors: an analyst is denied subject data with the permission named; a removed actor cannot unlock")
    func actors() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        #expect(try coffer.run(["init", "--vault", coffer.vault]).status == 0)
        let added = try coffer.run(["actor", "add", "alice", "--role", "analyst", "--vault", coffer.vault],
                                   environment: ["COFFER_NEW_PASSPHRASE": "alice passphrase"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("audit-read, audit-signing, projection"))
        let list = try coffer.run(["actor", "list", "--vault", coffer.vault])
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("alice ") && $0.contains(" analyst ") })

        let asAlice = ["--vault", coffer.vault, "--actor", "alice"]
        let denied = try coffer.run(["subject", "show", "email:a@example.com"] + asAlice,
                                    environment: ["COFFER_PASSPHRASE": "alice passphrase"])
        #expect(denied.status == 1)
        #expect(denied.stderr == "coffer: error: permission denied: actor 'alice' (role analyst) lacks the 'read-subjects' "
            + "permission, which only the owner and compliance roles have\n")
        let ingest = try coffer.run(["ingest", "x.jsonl"] + asAlice, environment: ["COFFER_PASSPHRASE": "alice passphrase"])
        #expect(ingest.stderr.contains("lacks the 'ingest' permission"))

        #expect(try coffer.run(["actor", "remove", "alice", "--vault", coffer.vault]).status == 0)
        let gone = try coffer.run(["actor", "list"] + asAlice, environment: ["COFFER_PASSPHRASE": "alice passphrase"])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("no actor named 'alice'"))
    }

    @Test("consent grant, revoke and show --at answer what the state was")
    func consent() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        #expect(try coffer.run(["init", "--vault", coffer.vault]).status == 0)
        let base = ["--vault", coffer.vault, "--subject", "email:Zoe@Example.com", "--purpose", "marketing"]
        let notice = coffer.directory.appendingPathComponent("notice.txt").path
        try "We will email you offers.".write(toFile: notice, atomically: true, encoding: .utf8)
        let grant = try coffer.run(["consent", "grant", "--at", "2025-01-01T09:00:00+01:00", "--notice-file", notice,
                                    "--notice-version", "v7"] + base)
        #expect(grant.status == 0, "\(grant.stderr)")
        #expect(grant.stdout.contains("marketing granted"))
        #expect(try coffer.run(["consent", "revoke", "--at", "2025-02-01T00:00:00Z"] + base).status == 0)

        func state(at time: String) throws -> String {
            let shown = try coffer.run(["consent", "show", "--vault", coffer.vault, "--subject", "email:zoe@example.com",
                                        "--purpose", "marketing", "--at", time])
            #expect(shown.status == 0, "\(shown.stderr)")
            return shown.stdout.split(separator: "\n").first { $0.hasPrefix("  marketing") }.map(String.init) ?? ""
        }
        #expect(try state(at: "2024-12-31T00:00:00Z").contains("marketing        none"))
        #expect(try state(at: "2025-01-15T00:00:00Z").contains("granted since 2025-01-01T08:00:00.000Z"))
        #expect(try state(at: "2025-03-01T00:00:00Z").contains("withdrawn since 2025-02-01T00:00:00.000Z"))
        let history = try coffer.run(["consent", "show", "--vault", coffer.vault, "--subject", "email:zoe@example.com"])
        #expect(history.stdout.contains("noticeSHA256="))
        #expect(history.stdout.contains("noticeVersion=v7"))
        #expect(history.stdout.contains("source cli:owner"))

        let notConsent = try coffer.run(["consent", "grant", "--vault", coffer.vault, "--subject", "email:zoe@example.com",
                                         "--purpose", "support"])
        #expect(notConsent.status == 1)
        #expect(notConsent.stderr.contains("rests on contract, not consent"))
    }
}
