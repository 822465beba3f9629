import CofferStore
import Foundation
import GRDB
import Testing

/// The `coffer` binary: exit codes, one clear message per error, no stack traces.
@Suite(.serialized)
struct CommandLineTests {
    @Test("init, a second init, verify: statuses and messages")
    func initAndVerify() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        let created = try coffer.run(["init", "--vault", coffer.vault])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("Created vault"))

        let again = try coffer.run(["init", "--vault", coffer.vault])
        #expect(again.status == 1)
        #expect(again.stderr == "coffer: error: a vault already exists at \(coffer.vault); use it, or choose another directory with --vault\n")

        let verified = try coffer.run(["verify", "--vault", coffer.vault])
        #expect(verified.status == 0)
        #expect(verified.stdout.hasPrefix("OK: 0 events"))
    }

    @Test("help of a command group is help (status 0), and a hostile import fails as one line (issue 15)")
    func helpAndHostileImport() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        for args in [["bench", "--help"], ["request", "--help"], ["backup", "--help"]] {
            let help = try coffer.run(args)
            #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(args): \(help.stderr)")
        }
        #expect(coffer.runInProcess(["init", "--vault", coffer.vault]).status == 0)
        let input = coffer.directory.appendingPathComponent("stray.json").path
        try #"garbage [{"type":"page","userId":"u1"}}, {"type":"page","userId":"u2"}]"#.write(toFile: input, atomically: true, encoding: .utf8)
        let result = try coffer.run(["ingest", input, "--vault", coffer.vault])
        #expect(result.status == 1)
        #expect(result.stdout.contains("accepted 1") && result.stdout.contains("quarantined 1"), "\(result.stdout)")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("coffer: error: "), "\(result.stderr)")
        #expect(result.stderr.contains("belong to no record"))
        // Issue 17: a usage error exits 1, as the help text promises (ArgumentParser's own status is 64).
        let invalid = try coffer.run(["demo", "--customers", "0", "--vault", coffer.vault])
        #expect(invalid.status == 1 && invalid.stderr.contains("--customers must be between 1 and 1000000"), "\(invalid.status) \(invalid.stderr)")
        let missing = try coffer.run(["ingest"])
        #expect(missing.status == 1 && missing.stderr.contains("name files to import, or give --inbox"), "\(missing.status) \(missing.stderr)")
    }

    @Test("COFFER_VAULT selects the vault; a missing vault is one line and status 1")
    func vaultFromEnvironment() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        let missing = try coffer.run(["verify"], environment: ["COFFER_VAULT": coffer.vault])
        #expect(missing.status == 1)
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(missing.stderr.contains("no vault at \(coffer.vault)"))
        #expect(try coffer.run(["init"], environment: ["COFFER_VAULT": coffer.vault]).status == 0)
        #expect(try coffer.run(["verify"], environment: ["COFFER_VAULT": coffer.vault]).status == 0)
    }

    @Test("a wrong passphrase: one message, status 1, nothing appended")
    func wrongPassphrase() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        #expect(coffer.runInProcess(["init", "--vault", coffer.vault]).status == 0)
        let wrong = try coffer.run(["bench", "append", "--vault", coffer.vault, "--events", "10"],
                                   environment: ["COFFER_PASSPHRASE": "not the passphrase"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("coffer: error: wrong passphrase for actor 'owner'; nothing was changed"))
        #expect(!wrong.stderr.contains("Fatal") && !wrong.stderr.contains("Stack"))
        #expect(try coffer.run(["verify", "--vault", coffer.vault]).stdout.hasPrefix("OK: 0 events"))
    }

    @Test("passphrase from a file; no passphrase at all is refused without a prompt when stdin is not a terminal")
    func passphraseSources() throws {
        var coffer = try CofferProcess()
        defer { coffer.cleanup() }
        coffer.environment = [:]
        let none = try coffer.run(["init", "--vault", coffer.vault])
        #expect(none.status == 1)
        #expect(none.stderr.contains("no passphrase given"))
        #expect(!FileManager.default.fileExists(atPath: coffer.vault + "/keyslots.json"))
        let file = coffer.directory.appendingPathComponent("pass.txt")
        try "from a file 123\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try coffer.run(["init", "--vault", coffer.vault, "--passphrase-file", file.path]).status == 0)
        let appended = try coffer.run(["bench", "append", "--vault", coffer.vault, "--passphrase-file", file.path,
                                       "--events", "20", "--subjects", "4", "--batch", "10"])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(try coffer.run(["verify", "--vault", coffer.vault]).stdout.hasPrefix("OK: 20 events"))
    }

    @Test("verify reports tampering with status 2 and the first bad seq; --expect-head catches rollback")
    func verifyDetectsTampering() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        #expect(coffer.runInProcess(["init", "--vault", coffer.vault]).status == 0)
        #expect(try coffer.run(["bench", "append", "--vault", coffer.vault, "--events", "40", "--subjects", "5",
                                "--batch", "10"]).status == 0)
        let head = coffer.directory.appendingPathComponent("head.txt").path
        #expect(try coffer.run(["verify", "--vault", coffer.vault, "--write-head", head]).status == 0)

        let db = try DatabaseQueue(path: coffer.vault + "/vault.sqlite")
        try db.write { db in
            try db.execute(sql: "DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_delete")
            try db.execute(sql: "DELETE FROM events WHERE seq > 30; DELETE FROM checkpoints WHERE seq > 30")
            // The subject index rewound too (appends of 10: the last run starts at 31).
            try db.execute(sql: "DELETE FROM subject_chunks WHERE run > 30; DELETE FROM subject_run_list WHERE run > 30")
        }
        try db.close()
        #expect(try coffer.run(["verify", "--vault", coffer.vault]).status == 0)  // a consistent rollback…
        let rolledBack = try coffer.run(["verify", "--vault", coffer.vault, "--expect-head", head])
        #expect(rolledBack.status == 2)  // …is caught against the kept head
        #expect(rolledBack.stdout.contains("FAILED: event 31: truncated"))

        let db2 = try DatabaseQueue(path: coffer.vault + "/vault.sqlite")
        try db2.write { db in
            try db.execute(sql: "DROP TRIGGER events_no_update")
            try db.execute(sql: "UPDATE events SET ciphertext = zeroblob(length(ciphertext)) WHERE seq = 7")
        }
        try db2.close()
        let tampered = try coffer.run(["verify", "--vault", coffer.vault])
        #expect(tampered.status == 2)
        #expect(tampered.stdout.contains("FAILED: event 7:"))
    }
}
