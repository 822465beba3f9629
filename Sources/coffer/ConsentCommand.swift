import ArgumentParser
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import CofferFormats

/// `coffer consent grant|revoke|show|import`
struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Record and look up consent (and objections) per subject and purpose.",
        discussion: """
            Each decision is an encrypted event in the log (with source, lawful basis, time and
            evidence), so the state at any past moment can be shown: `consent show --at TIME`.
            Consent also arrives from Segment events (context.consent.categoryPreferences) during ingest.
            """,
        subcommands: [Grant.self, Revoke.self, Object.self, Show.self, Import.self]
    )

    /// Withdrawals and objections take effect at once: the people leave the projections already built.
    static func takeEffect(_ changes: [ConsentChange], vault: Vault, policy: Policy) throws {
        guard !changes.isEmpty else { return }
        let outcomes = try ConsentEffects.apply(changes, vault: vault, policy: policy)
        let files = Set(outcomes.map(\.file)), rows = outcomes.map(\.rowsRemoved).reduce(0, +)
        guard !files.isEmpty else { return }
        Terminal.line("Taken out at once: \(rows) row(s) in \(files.count) projection file(s)"
            + (outcomes.contains(where: \.fileDeleted) ? " (some files deleted: run `coffer project build`)" : ""))
    }

    /// Options shared by grant and revoke.
    struct Decision: ParsableArguments {
        @Option(help: ArgumentHelp("The person: TYPE:VALUE, e.g. email:alice@example.com.", valueName: "ID")) var subject: String
        @Option(help: ArgumentHelp("A consent-based purpose of the policy.", valueName: "PURPOSE")) var purpose: String
        @Option(help: ArgumentHelp("When the subject decided (ISO-8601 with zone; default: now).", valueName: "TIME")) var at: String?
        @Option(help: ArgumentHelp("Where the decision was made (default: cli:ACTOR).", valueName: "TEXT")) var source: String?
        @Option(help: ArgumentHelp("Version of the notice the subject saw.", valueName: "V")) var noticeVersion: String?
        @Option(help: ArgumentHelp("The notice text the subject saw; its SHA-256 is kept as evidence.", valueName: "FILE"))
        var noticeFile: String?

        func validate() throws {
            if let at, Timestamp.parse(at) == nil { throw ValidationError("--at '\(at)' is not ISO-8601 with a time zone") }
        }

        func evidence() throws -> [String: String] {
            var out: [String: String] = [:]
            if let noticeVersion { out["noticeVersion"] = noticeVersion }
            if let noticeFile {
                guard let data = FileManager.default.contents(atPath: noticeFile) else {
                    throw CommandFailure(message: "cannot read the notice file \(noticeFile)")
                }
                out["noticeSHA256"] = try SHA256.hash(Array(data)).hexString
            }
            return out
        }

        func record(_ status: ConsentStatus, options: VaultOptions, expires: String?) throws {
            let policy = try options.policy()
            let identifier = try options.identifier(subject)
            let vault = try options.unlock()
            let desk = try ConsentDesk(vault: vault, policy: policy)
            let time = at.flatMap { Timestamp.parse($0) } ?? EventLog.now()
            let record = try desk.makeRecord(purpose: purpose, status: status, effectiveAt: time,
                                             source: source ?? "cli:\(vault.actor)",
                                             expiresAt: expires.flatMap { Timestamp.parse($0) }, evidence: evidence())
            let result = try desk.record(record, for: identifier)
            Terminal.line("Recorded: \(purpose) \(status.rawValue) for subject \(result.subject.hex) at \(Timestamp.format(time))"
                + (record.expiresAt.map { ", expires \(Timestamp.format($0))" } ?? "") + " (log seq \(result.seq))")
            if status != .granted {
                try ConsentCommand.takeEffect([ConsentChange(subject: result.subject, purpose: purpose)], vault: vault, policy: policy)
            }
        }

        /// An objection (Art. 21) to a purpose on legitimate interests or a public task.
        func object(options: VaultOptions) throws {
            let policy = try options.policy()
            let identifier = try options.identifier(subject)
            let vault = try options.unlock()
            let desk = try ConsentDesk(vault: vault, policy: policy)
            let time = at.flatMap { Timestamp.parse($0) } ?? EventLog.now()
            let record = try desk.makeObjection(purpose: purpose, effectiveAt: time, source: source ?? "cli:\(vault.actor)",
                                                evidence: evidence())
            let result = try desk.record(record, for: identifier)
            Terminal.line("Recorded: objection to \(purpose) for subject \(result.subject.hex) at \(Timestamp.format(time)) "
                + "(log seq \(result.seq)); they are left out of it from now on")
            try ConsentCommand.takeEffect([ConsentChange(subject: result.subject, purpose: purpose)], vault: vault, policy: policy)
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a subject gave consent for a purpose.")
        @OptionGroup var options: VaultOptions
        @OptionGroup var decision: Decision
        @Option(help: ArgumentHelp("When the grant lapses (default: the policy's consent_valid_for).", valueName: "TIME"))
        var expires: String?

        func validate() throws {
            if let expires, Timestamp.parse(expires) == nil { throw ValidationError("--expires '\(expires)' is not ISO-8601 with a time zone") }
        }

        func run() throws { try decision.record(.granted, options: options, expires: expires) }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a subject withdrew consent for a purpose.")
        @OptionGroup var options: VaultOptions
        @OptionGroup var decision: Decision

        func run() throws { try decision.record(.withdrawn, options: options, expires: nil) }
    }

    struct Object: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an objection (GDPR Art. 21) to a purpose that rests on legitimate interests.",
            discussion: """
                The person is taken out of that purpose's projections at once and left out of every \
                later build. Purposes that rest on consent are withdrawn from with `consent revoke`.
                """)
        @OptionGroup var options: VaultOptions
        @OptionGroup var decision: Decision

        func run() throws { try decision.object(options: options) }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a subject's consent state at a moment, and its full history.",
            discussion: "The state at TIME is the latest decision that took effect at or before TIME; a grant past its expiry is 'expired'."
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("The person: TYPE:VALUE.", valueName: "ID")) var subject: String
        @Option(help: ArgumentHelp("Only this purpose.", valueName: "PURPOSE")) var purpose: String?
        @Option(help: ArgumentHelp("The moment to answer for (ISO-8601 with zone; default: now).", valueName: "TIME")) var at: String?

        func validate() throws {
            if let at, Timestamp.parse(at) == nil { throw ValidationError("--at '\(at)' is not ISO-8601 with a time zone") }
        }

        func run() throws {
            let policy = try options.policy()
            let identifier = try options.identifier(subject)
            if let purpose, policy.purpose(purpose) == nil {
                throw ConsentError.unknownPurpose(purpose, declared: policy.purposes.map(\.name))
            }
            let vault = try options.unlock()
            guard let report = try ConsentDesk(vault: vault, policy: policy).report(for: identifier) else {
                throw ConsentError.unknownSubject(identifier.type)
            }
            let time = at.flatMap { Timestamp.parse($0) } ?? EventLog.now()
            Terminal.line("subject \(report.subject.hex)" + (report.merged.isEmpty ? "" : " (and \(report.merged.count) merged)"))
            Terminal.line("state at \(Timestamp.format(time)):")
            for declared in policy.purposes where purpose == nil || declared.name == purpose {
                let name = declared.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                let state = report.state(of: declared.name, at: time)
                guard declared.needsConsent else {
                    if case let .objected(since, seq) = state {
                        Terminal.line("  \(name) objected since \(Timestamp.format(since)) (seq \(seq)); left out of this purpose")
                    } else {
                        Terminal.line("  \(name) not needed (lawful basis: \(declared.lawfulBasis.rawValue))")
                    }
                    continue
                }
                var detail = ""
                switch state {
                case let .granted(since, seq): detail = " since \(Timestamp.format(since)) (seq \(seq))"
                case let .withdrawn(since, seq), let .objected(since, seq): detail = " since \(Timestamp.format(since)) (seq \(seq))"
                case let .expired(expiry, seq): detail = " at \(Timestamp.format(expiry)) (granted at seq \(seq))"
                case .none: detail = " (no decision recorded by then)"
                }
                Terminal.line("  \(name) \(state)\(detail)")
            }
            let history = report.history.filter { purpose == nil || $0.record.purpose == purpose }
            Terminal.line("history (\(history.count) decision\(history.count == 1 ? "" : "s")):")
            for entry in history {
                let record = entry.record
                var line = "  \(Timestamp.format(record.effectiveAt))  \(record.purpose) \(record.status.rawValue)  "
                    + "basis \(record.lawfulBasis)  source \(record.source)"
                if let expiry = record.expiresAt { line += "  expires \(Timestamp.format(expiry))" }
                if !record.evidence.isEmpty {
                    line += "  evidence " + record.evidence.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                }
                line += "  (seq \(entry.seq), recorded \(Timestamp.format(entry.recordedAt)))"
                Terminal.line(line)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import consent decisions from CSV.",
            discussion: """
                Header row with columns subject, purpose, status, timestamp, and optionally
                expires, source, notice_version, notice_sha256. Bad rows are quarantined with
                their line and reason; importing the same file again records nothing new.
                """
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: "CSV files.") var files: [String]

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let importer = try ConsentImporter(vault: vault, policy: policy)
            var failed = false
            for file in files {
                do {
                    let report = try importer.importCSV(path: file)
                    Terminal.line("\(file): recorded \(report.accepted), duplicate \(report.duplicates), quarantined \(report.quarantined)"
                        + (report.subjectsCreated > 0 ? " (new subjects \(report.subjectsCreated))" : ""))
                    for (reason, count) in report.reasons.sorted(by: { $0.key < $1.key }) {
                        Terminal.line("  quarantined \(count)× \(reason)")
                    }
                    try ConsentCommand.takeEffect(report.withdrawals, vault: vault, policy: policy)
                } catch let error as IngestError {
                    Terminal.error(error.description)
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}
