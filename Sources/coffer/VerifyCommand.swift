import ArgumentParser
import CofferCrypto
import CofferStore
import Foundation
import CofferFormats

/// `coffer verify` (the log check, by default) and `coffer verify export-key`.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify the event log: hash chain, sequence and signed checkpoints.",
        discussion: "`coffer verify` runs `verify log`; `coffer verify export-key` writes the checkpoint key to pin.",
        subcommands: [VerifyLog.self, ExportKey.self],
        defaultSubcommand: VerifyLog.self
    )

    /// `coffer verify export-key`: the checkpoint public key, as the vault's own keys derive it.
    struct ExportKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-key",
            abstract: "Print (or write) the log's checkpoint public key, derived from the vault's keys.",
            discussion: """
                Keep it, or hand it to an auditor, who pins it with `verify --public-key FILE`. \
                Needs an actor holding the master key (owner or compliance): the key is derived, \
                not read from the file an attacker could have changed.
                """
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Write the key to FILE instead of printing it.", valueName: "FILE")) var out: String?

        func run() throws {
            let key = try options.unlock().keys().checkpointSigning.publicKey
            let hex = key.rawRepresentation.hexString
            guard let out else { return Terminal.line(hex) }
            do {
                try (hex + "\n").write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw VaultError.io(path: out, detail: error.localizedDescription)
            }
            Terminal.line("Checkpoint public key \(try key.fingerprint()) written to \(out)")
        }
    }
}

/// `coffer verify [log]`: walks the hash chain and checks every checkpoint signature.
struct VerifyLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Verify the event log: hash chain, sequence and signed checkpoints.",
        discussion: """
            Needs no passphrase: an auditor with the vault files can run it. Prints OK with the event \
            count, or the first bad event and exits with status 2.

            An attacker who can rewrite every file can roll the log back to an earlier signed state. \
            Keep the head (--write-head) somewhere else and check against it later (--expect-head).

            With --state it also checks the seals of the clear tables that decide who is in a \
            projection (consent state, restrictions, suppressions, merges, erasures): this needs the \
            passphrase of an actor holding the master key (owner or compliance; --actor).
            """
    )

    @OptionGroup var options: ChainOptions

    @Flag(help: "Also check the seals of the tables that decide projection membership (needs a passphrase).")
    var state = false

    @Option(help: ArgumentHelp("With --state: the actor to unlock as (owner or compliance).", valueName: "NAME"))
    var actor = "owner"

    @Option(help: ArgumentHelp("With --state: read the passphrase from FILE (else $COFFER_PASSPHRASE, else a prompt).",
                               valueName: "FILE"))
    var passphraseFile: String?

    func run() throws {
        let layout = try options.layout()
        let clock = Date()
        let report = try LogVerifier.verify(layout: layout, pinnedKey: options.pinnedKey(), expectedHead: options.expectedHead()) { count in
            Terminal.progress("verified \(count) events…")
        }
        Terminal.endProgress()
        if let failure = report.failure {
            Terminal.line(failure.isKeyMismatch ? "KEY MISMATCH: \(failure.reason)" : "FAILED: \(failure)")
            if !failure.isKeyMismatch {
                Terminal.line("Checked \(report.eventCount) events and \(report.checkpointCount) checkpoints before the failure.")
            }
            throw ExitCode(2)
        }
        let seconds = Date().timeIntervalSince(clock)
        Terminal.line("OK: \(report.eventCount) events, chain intact, \(report.checkpointCount) signed checkpoints "
            + "(key \(report.keyFingerprint)), head \(report.headSeq) \(report.headHash.hexString.prefix(16))… "
            + String(format: "in %.2f s", seconds))
        if state {
            do {
                let vault = try layout.unlockAsking(actor: actor, passphraseFile: passphraseFile)
                try vault.verifySeals()
                let coverage = try vault.logCoverage()
                guard coverage.isComplete else {
                    Terminal.line("FAILED: the log ends at seq \(coverage.logHead), but the audit ledger records ingested events "
                        + "through seq \(coverage.auditedThrough): acknowledged events are missing (vault.sqlite copied without its "
                        + "-wal, or the WAL deleted). Restore from a `coffer backup`.")
                    throw ExitCode(2)
                }
            } catch let error as VaultError {
                guard case .tamperedTable = error else { throw error }
                Terminal.line("FAILED: \(error.description)")
                throw ExitCode(2)
            }
            Terminal.line("OK: state tables sealed and intact (\(StateSeals.tables.map(\.name).joined(separator: ", "))); "
                + "the log holds every batch the audit ledger records")
        }
        try options.write(ExpectedHead(seq: report.headSeq, hash: report.headHash))
    }
}

/// Options of the two chain checks (`verify`, `audit verify`), which need no passphrase.
struct ChainOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault directory (default: $COFFER_VAULT, else ./vault).", valueName: "DIR"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Pin the public key: a file holding its 64 hex digits.", valueName: "FILE"))
    var publicKey: String?

    @Option(name: .long, help: ArgumentHelp("Fail unless the chain still contains this head (a file from --write-head).", valueName: "FILE"))
    var expectHead: String?

    @Option(name: .long, help: ArgumentHelp("After a successful check, write the current head to FILE.", valueName: "FILE"))
    var writeHead: String?

    /// The vault to check; it must exist.
    func layout() throws -> VaultLayout {
        let layout = VaultLayout.resolve(explicit: vault, environment: CommandContext.current.environment)
        guard layout.isInitialized else { throw VaultError.notInitialized(path: layout.directory.path) }
        return layout
    }

    func pinnedKey() throws -> Ed25519.PublicKey? { try publicKey.map(Self.readPublicKey) }

    func expectedHead() throws -> ExpectedHead? { try expectHead.map(Self.readHead) }

    /// Writes `head` to --write-head, if given, and says so.
    func write(_ head: ExpectedHead) throws {
        guard let writeHead else { return }
        do {
            try head.text.write(toFile: writeHead, atomically: true, encoding: .utf8)
        } catch {
            throw VaultError.io(path: writeHead, detail: error.localizedDescription)
        }
        Terminal.line("Head written to \(writeHead)")
    }

    static func readPublicKey(_ path: String) throws -> Ed25519.PublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let raw = [UInt8](hexString: text.trimmingCharacters(in: .whitespacesAndNewlines)), raw.count == 32 else {
            throw CommandFailure(message: "\(path) does not hold a public key (64 hex digits)")
        }
        return try Ed25519.PublicKey(rawRepresentation: raw)
    }

    static func readHead(_ path: String) throws -> ExpectedHead {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let head = ExpectedHead(text: text) else {
            throw CommandFailure(message: "\(path) does not hold a head (\"SEQ HASH\" as written by --write-head)")
        }
        return head
    }
}
