import ArgumentParser
import CofferCrypto
import CofferIngest
import CofferProjection
import CofferStore
import Foundation
import GRDB
import CofferFormats

/// `coffer audit log|verify|export-key`
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the signed audit trail of every access.",
        discussion: """
            The ledger is audit.sqlite in the vault: one entry per ingest batch, read of customer data,
            consent change, actor change, policy change and denial. Entries are hash-chained and
            Ed25519-signed; their details are encrypted under the audit read key.
            """,
        subcommands: [Log.self, Verify.self, ExportKey.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List audit entries (owner, compliance, auditor).",
            discussion: "--subject takes an identifier (owner and compliance: it is resolved to the person's subject ids) "
                + "or a subject id in hex (anyone who may read the log)."
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Only entries at or after TIME (ISO-8601 with zone).", valueName: "TIME")) var since: String?
        @Option(help: ArgumentHelp("Only entries at or before TIME.", valueName: "TIME")) var until: String?
        @Option(name: .customLong("by"), help: ArgumentHelp("Only entries of this actor (--actor chooses who reads).", valueName: "NAME"))
        var byActor: String?
        @Option(help: ArgumentHelp("Only this action (e.g. subject-show, ingest, consent-record).", valueName: "ACTION")) var action: String?
        @Option(help: ArgumentHelp("Only entries about this subject: TYPE:VALUE or a hex subject id.", valueName: "ID")) var subject: String?
        @Option(help: ArgumentHelp("allowed or denied.", valueName: "DECISION")) var decision: String?
        @Option(help: "table, json or csv.") var format: Format = .table

        func validate() throws {
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, Timestamp.parse(value) == nil { throw ValidationError("\(name) '\(value)' is not ISO-8601 with a time zone") }
            }
            if let decision, AuditDecision(rawValue: decision) == nil { throw ValidationError("--decision must be allowed or denied") }
        }

        func run() throws {
            let vault = try options.unlock()
            var filter = AuditFilter(since: since.flatMap { Timestamp.parse($0) }, until: until.flatMap { Timestamp.parse($0) },
                                     actor: byActor, action: action.map { AuditAction(rawValue: $0) },
                                     decision: decision.flatMap { AuditDecision(rawValue: $0) })
            if let subject {
                if let hex = SubjectID(hex: subject.hasPrefix("subject:") ? String(subject.dropFirst(8)) : subject) {
                    filter.targets = [Vault.auditTarget(hex)]
                } else {
                    let identifier = try options.identifier(subject)
                    try vault.require(.readSubjects, for: .auditLog)
                    // Their subject ids and their rows in every projection (as the export's access log finds them).
                    let found = try vault.database.read { try vault.identityGraph().subject(for: identifier, in: $0) }
                    filter.targets = try found.map { try PersonProfile.auditTargets(of: $0, vault: vault, policy: options.policy()) } ?? []
                }
            }
            let entries = try vault.auditEntries(filter)
            // What is shown must be what was signed: the chain is checked first (the key was
            // checked against the vault's own when the ledger opened).
            let check = try AuditVerifier.verify(layout: vault.layout)
            if let failure = check.failure {
                Terminal.error("the audit ledger does not verify at entry \(failure.seq): \(failure.reason); "
                    + "entries may have been altered or removed, so none are shown. Run `coffer audit verify` and restore "
                    + "audit.sqlite from a `coffer backup`")
                throw ExitCode(2)
            }
            switch format {
            case .table:
                Terminal.line("seq    time                      actor        role        action            decision  purpose          target                                    rows  reason")
                for entry in entries {
                    let d = entry.details
                    Terminal.line([pad("\(entry.seq)\(entry.signed ? "" : "*")", 6), pad(Timestamp.format(entry.at), 25), pad(d.actor, 12),
                                   pad(d.role, 11), pad(entry.action.rawValue, 17), pad(entry.decision.rawValue, 9),
                                   pad(d.purpose ?? "-", 16), pad(d.target ?? "-", 41), pad("\(d.rows)", 5), d.reason ?? ""]
                        .joined(separator: " "))
                }
                Terminal.line("\(entries.count) entr\(entries.count == 1 ? "y" : "ies")"
                    + (entries.contains { !$0.signed } ? " (* written without a signing key; covered by the next signed entry)" : ""))
            case .json:
                let objects: [[String: Any]] = entries.map { entry in
                    var object: [String: Any] = ["seq": entry.seq, "time": Timestamp.format(entry.at), "actor": entry.details.actor,
                                                 "role": entry.details.role, "action": entry.action.rawValue,
                                                 "decision": entry.decision.rawValue, "rows": entry.details.rows, "signed": entry.signed]
                    if let purpose = entry.details.purpose { object["purpose"] = purpose }
                    if let target = entry.details.target { object["target"] = target }
                    if let reason = entry.details.reason { object["reason"] = reason }
                    if let policy = entry.details.policy { object["policy"] = policy }
                    return object
                }
                Terminal.line(String(decoding: try CanonicalJSON.data(objects), as: UTF8.self))
            case .csv:
                Terminal.line("seq,time,actor,role,action,decision,purpose,target,rows,reason,policy,signed")
                for entry in entries {
                    let d = entry.details
                    Terminal.line(["\(entry.seq)", Timestamp.format(entry.at), d.actor, d.role, entry.action.rawValue,
                                   entry.decision.rawValue, d.purpose ?? "", d.target ?? "", "\(d.rows)", d.reason ?? "",
                                   d.policy ?? "", entry.signed ? "yes" : "no"].map(csv).joined(separator: ","))
                }
            }
        }

        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }

        func csv(_ field: String) -> String {
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit ledger with only its public key (no passphrase).",
            discussion: """
                Checks every entry's chain link, hash and signature; prints OK or the first broken entry and
                exits with status 2. Pin the key an owner or auditor exported (--public-key), and keep the head
                (--write-head) to detect a truncated tail later (--expect-head).
                """
        )
        @OptionGroup var options: ChainOptions

        func run() throws {
            let report = try AuditVerifier.verify(layout: options.layout(), pinnedKey: options.pinnedKey(),
                                                  expectedHead: options.expectedHead())
            if let failure = report.failure {
                Terminal.line(failure.isKeyMismatch ? "KEY MISMATCH: \(failure.reason)" : "FAILED: audit entry \(failure.seq): \(failure.reason)")
                Terminal.line("Checked \(report.entryCount) entries before the failure.")
                throw ExitCode(2)
            }
            Terminal.line("OK: \(report.entryCount) audit entries, chain intact, \(report.signedCount) signed "
                + "(key \(report.keyFingerprint)), head \(report.headSeq) \(report.headHash.hexString.prefix(16))…")
            if report.unsignedTail > 0 {
                Terminal.line("Note: the last \(report.unsignedTail) entr\(report.unsignedTail == 1 ? "y was" : "ies were") written without "
                    + "a signing key (an auditor's own denials, or appended outside coffer); the next signed entry will cover them.")
            }
            try options.write(report.head)
        }
    }

    struct ExportKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-key",
            abstract: "Print (or write) the audit public key, as the actor's own keys know it.",
            discussion: "Hand it to the auditor, who pins it with `audit verify --public-key FILE`."
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Write the key to FILE instead of printing it.", valueName: "FILE")) var out: String?

        func run() throws {
            let hex = try options.unlock().auditPublicKey().rawRepresentation.hexString
            if let out {
                do {
                    try (hex + "\n").write(toFile: out, atomically: true, encoding: .utf8)
                } catch {
                    throw VaultError.io(path: out, detail: error.localizedDescription)
                }
                Terminal.line("Audit public key \(try Ed25519.PublicKey(rawRepresentation: [UInt8](hexString: hex)!).fingerprint()) written to \(out)")
            } else {
                Terminal.line(hex)
            }
        }
    }
}
