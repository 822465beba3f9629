import Foundation
import Testing

/// Issue 16, item 8: the policy belongs to the vault.
@Suite(.serialized)
struct VaultPolicyTests {
    @Test("init records the policy; commands find it from any directory; policy apply changes it; a hand edit is refused")
    func policyInTheVault() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        let created = try coffer.run(["init"] + vault)
        #expect(created.stdout.contains("Recorded policy 'cafe-default'"), "\(created.stdout)")
        #expect(FileManager.default.fileExists(atPath: coffer.vault + "/policy.yaml"))
        #expect(FileManager.default.fileExists(atPath: coffer.vault + "/segments.yaml"))

        // No policy named, and none in the working directory: the vault's is used.
        let noPolicy = ["COFFER_POLICY": ""]
        let input = coffer.directory.appendingPathComponent("in.jsonl").path
        try #"{"type":"identify","userId":"u1","traits":{"email":"dana@example.com","age":30},"timestamp":"2026-01-01T00:00:00Z"}"#
            .write(toFile: input, atomically: true, encoding: .utf8)
        #expect(try coffer.run(["ingest", input] + vault, environment: noPolicy).status == 0)
        let built = try coffer.run(["project", "build"] + vault, environment: noPolicy)
        #expect(built.status == 0, "\(built.stderr)")

        // Another policy named on the command line is refused: changing it is `policy apply`.
        let other = coffer.directory.appendingPathComponent("other.yaml").path
        try """
            name: other
            purposes: { analytics: { lawful_basis: legitimate_interests } }
            field_classes: { behavioural: [total_spend] }
            access: { analyst: { purposes: { analytics: { behavioural: allow } } } }
            """.write(toFile: other, atomically: true, encoding: .utf8)
        let refused = try coffer.run(["project", "build", "--policy", other] + vault)
        #expect(refused.status == 1 && refused.stderr.contains("coffer policy apply"), "\(refused.stderr)")

        // Only the owner applies one, and it is audited.
        #expect(try coffer.run(["actor", "add", "ana", "--role", "analyst"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": "analyst passphrase"]).status == 0)
        let notOwner = try coffer.run(["policy", "apply", other, "--actor", "ana"] + vault, environment: ["COFFER_PASSPHRASE": "analyst passphrase"])
        #expect(notOwner.status == 1, "\(notOwner.stdout)")
        let applied = try coffer.run(["policy", "apply", other] + vault)
        #expect(applied.status == 0 && applied.stdout.contains("now runs under policy 'other'"), "\(applied.stderr)")
        #expect(try coffer.run(["project", "build"] + vault, environment: noPolicy).status == 0)
        let log = try coffer.run(["audit", "log", "--action", "policy-apply", "--format", "csv"] + vault)
        #expect(log.stdout.split(separator: "\n").count == 4, "init, the analyst's refused attempt, the apply: \(log.stdout)")
        #expect(log.stdout.contains("ana,analyst,policy-apply,denied"))

        // The recorded copy edited by hand is refused before it decides anything.
        try (try String(contentsOfFile: coffer.vault + "/policy.yaml", encoding: .utf8) + "\nminimum_group_size: 2\n")
            .write(toFile: coffer.vault + "/policy.yaml", atomically: true, encoding: .utf8)
        let edited = try coffer.run(["project", "build"] + vault, environment: noPolicy)
        #expect(edited.status == 1 && edited.stderr.contains("not the policy last applied"), "\(edited.stderr)")
    }

    @Test("policy check validates the segment definitions beside the policy")
    func checkSegments() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let dir = coffer.directory.appendingPathComponent("pol")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CofferProcess.defaultPolicy, toPath: dir.appendingPathComponent("policy.yaml").path)
        try "segments:\n  broken:\n    rule: no_such_field > 1\n".write(to: dir.appendingPathComponent("segments.yaml"), atomically: true, encoding: .utf8)
        let checked = try coffer.run(["policy", "check", dir.appendingPathComponent("policy.yaml").path])
        #expect(checked.status == 1 && checked.stderr.contains("segments.yaml"), "\(checked.stdout) \(checked.stderr)")
    }
}
