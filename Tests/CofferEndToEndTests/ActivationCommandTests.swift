import Foundation
import Testing

/// Issue 20 from the command line: an audience export, its verification, and a campaign.
@Suite(.serialized)
struct ActivationCommandTests {
    @Test("audience export writes the file and its manifest; verify accepts it and exits 2 once it changed; a campaign keeps its holdout out")
    func audienceAndCampaign() throws {
        let coffer = try CofferCommand()
        defer { coffer.cleanup() }
        let vault = ["--vault", coffer.vault]
        #expect(try coffer.run(["init"] + vault).status == 0)
        let input = coffer.directory.appendingPathComponent("in.jsonl").path
        try (0..<20).map { index in
            #"{"type":"identify","userId":"u\#(index)","traits":{"email":"person\#(index)@example.com"},"timestamp":"2026-01-01T00:00:00Z","context":{"consent":{"categoryPreferences":{"marketing":true,"email":true}}}}"#
                + "\n" + #"{"type":"track","event":"Order Completed","userId":"u\#(index)","timestamp":"2026-01-02T00:00:00Z","properties":{"revenue":\#(index)}}"#
        }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        #expect(try coffer.run(["ingest", input] + vault).status == 0)
        let segments = coffer.directory.appendingPathComponent("segments.yaml").path
        try "segments:\n  buyers:\n    rule: shop_times >= 1\n".write(toFile: segments, atomically: true, encoding: .utf8)
        let built = try coffer.run(["project", "build", "--segments", segments] + vault)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(try coffer.run(["actor", "add", "mia", "--role", "marketing"] + vault,
                               environment: ["COFFER_NEW_PASSPHRASE": "marketing passphrase"]).status == 0)
        let mia = ["--actor", "mia"] + vault, marketer = ["COFFER_PASSPHRASE": "marketing passphrase"]
        let out = coffer.directory.appendingPathComponent("buyers.csv").path
        let export = try coffer.run(["audience", "export", "buyers", "--purpose", "marketing", "--channel", "email", "--out", out] + mia,
                                    environment: marketer)
        #expect(export.status == 0 && export.stdout.contains("Exported 20 member(s) of 'buyers'"), "\(export.stdout)\(export.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + ".manifest.json"))
        #expect(try coffer.run(["audience", "verify", out] + vault).status == 0)
        try (try String(contentsOfFile: out, encoding: .utf8) + "intruder@example.com,,,,,buyers\n").write(toFile: out, atomically: true, encoding: .utf8)
        let changed = try coffer.run(["audience", "verify", out] + vault)
        #expect(changed.status == 2 && changed.stderr.contains("no audience export in the audit trail"), "\(changed.stderr)")
        let wrongPurpose = try coffer.run(["audience", "export", "buyers", "--purpose", "analytics", "--channel", "email", "--out", out] + mia,
                                          environment: marketer)
        #expect(wrongPurpose.status == 1 && wrongPurpose.stderr.contains("pass --purpose marketing"), "\(wrongPurpose.stderr)")
        let byOwner = try coffer.run(["audience", "export", "buyers", "--purpose", "marketing", "--channel", "email", "--out", out] + vault)
        #expect(byOwner.status == 1 && byOwner.stderr.contains("activate"), "\(byOwner.stderr)")

        let created = try coffer.run(["campaign", "create", "spring", "--segment", "buyers", "--channel", "email", "--holdout", "30%",
                                      "--variant", "A=Free pastry"] + vault)
        #expect(created.status == 0 && created.stdout.contains("Created campaign spring"), "\(created.stderr)")
        let campaign = try coffer.run(["campaign", "export", "spring", "--out", coffer.directory.appendingPathComponent("spring.csv").path] + mia,
                                      environment: marketer)
        #expect(campaign.status == 0 && campaign.stdout.contains("in the campaign's holdout"), "\(campaign.stdout)\(campaign.stderr)")
        let report = try coffer.run(["campaign", "report", "spring", "--format", "json"] + vault)
        #expect(report.status == 0 && report.stdout.contains("\"campaign\":\"spring\""), "\(report.stderr)")
    }
}
