import ArgumentParser
import CofferActivation
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferStore
import Foundation

/// `coffer audience export|verify`
struct AudienceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audience",
        abstract: "Export a segment to an email, SMS, push or ads tool, checked against the vault as it is now.",
        subcommands: [Export.self, Verify.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a segment's members for one channel (marketing role; audited).",
            discussion: """
                Every member of the segment in the marketing projection is checked against the vault at this \
                moment: consent to the purpose and to the channel's own opt-in in force, not restricted, not \
                erased, not unsubscribed from the channel (unsubscribe, bounce and spam-complaint events), and \
                under the policy's frequency cap across all exports. Who was left out is reported as counts \
                only. Fewer members than the policy's minimum group size: nothing is written. Only the \
                destination's fields (the policy's activation section) are written. FILE.manifest.json and the \
                audit entry hold the export's manifest (counts, SHA-256, policy hash); `coffer audience verify \
                FILE` checks a file against it.
                """
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The segment (see `coffer segment list`).", valueName: "SEGMENT")) var segment: String
        @Option(help: ArgumentHelp("The purpose the audience serves (the policy's activation purpose).", valueName: "PURPOSE"))
        var purpose: String
        @Option(help: "The channel: email, sms, push or ads.") var channel: ActivationSettings.Channel
        @Option(help: ArgumentHelp("A destination of the policy (default: the first for the channel).", valueName: "NAME"))
        var destination: String?
        @Option(help: "The file format: email-csv, sms, push, ads or json (default: the destination's).")
        var format: ActivationSettings.Format?
        @Option(help: ArgumentHelp("Where to write the audience.", valueName: "FILE")) var out: String

        func run() throws {
            let policy = try options.policy()
            guard purpose == policy.activation.purpose else {
                throw ActivationError.wrongPurpose(purpose, expected: policy.activation.purpose)
            }
            let vault = try options.unlock()
            let report = try AudienceExporter(vault: vault, policy: policy)
                .export(segment: segment, channel: channel, destination: destination, format: format, to: URL(fileURLWithPath: out))
            Terminal.line(String(format: "Exported %d member(s) of '%@' for %@ to %@ (%@, destination %@) in %.2f s; export %@, SHA-256 %@.",
                                 report.members, segment, channel.rawValue, out, report.destination.format.rawValue,
                                 report.destination.name, report.seconds, report.exportID, String(report.sha256.prefix(16)) + "…"))
            let total = report.leftOut.values.reduce(0, +)
            Terminal.line("Left out: \(total)" + (total == 0 ? "" : " — ")
                + report.leftOutSummary)
            Terminal.line("Fields written: \(report.destination.fields.joined(separator: ", ")). Manifest: \(out).manifest.json")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an exported audience file against the manifest in the audit trail (owner, compliance, auditor).",
            discussion: "Exit status 2 when no export in the audit trail has this file's SHA-256 (changed, or not from this vault)."
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("An exported audience file.", valueName: "FILE")) var file: String

        func run() throws {
            guard let bytes = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let digest = try SHA256.hash(Array(bytes)).hexString
            let vault = try options.unlock()
            let entries = try vault.auditEntries(AuditFilter(action: .audienceExport, decision: .allowed))
            guard let entry = entries.last(where: { $0.details.reason?.contains("\"sha256\":\"\(digest)\"") == true }) else {
                Terminal.error("\(file): no audience export in the audit trail has SHA-256 \(digest): the file was changed, or is not from this vault")
                throw ExitCode(2)
            }
            Terminal.line("ok — \(file) is export seq \(entry.seq) by \(entry.details.actor) at \(Timestamp.format(entry.at)): \(entry.details.reason ?? "")")
        }
    }
}
