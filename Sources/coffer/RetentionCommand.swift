import ArgumentParser
import CofferRequests
import CofferStore
import Foundation

/// `coffer retention apply [--dry-run]`
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Apply the policy's retention periods.",
        subcommands: [Apply.self]
    )

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete quarantined input past its period; report the read cutoffs of every event kind (signed).",
            discussion: """
                Owner or compliance; audited. Events past their kind's period are already left out of every \\
                projection, profile and export from the day the period passes; destroying them \\
                (crypto-shredding by period) is not built yet, and the report says so. Rejected input older \\
                than `retention: quarantine:` is deleted (secure_delete, WAL truncated). --dry-run reports \\
                without deleting.
                """)
        @OptionGroup var options: VaultOptions
        @Flag(help: "Report what would be deleted, delete nothing.") var dryRun = false
        @Option(help: ArgumentHelp("Write the signed report (JSON) to FILE.", valueName: "FILE")) var report: String?

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let signed = try RetentionRun.apply(vault: vault, policy: policy, dryRun: dryRun)
            let result = signed.report
            Terminal.line("Quarantine: \(result.quarantineDeleted) record(s) received before "
                + "\(result.quarantineCutoff ?? "(no period: retention has no quarantine entry)") "
                + (dryRun ? "would be deleted" : "deleted") + ".")
            for (kind, cutoff) in result.readCutoffs.sorted(by: { $0.key < $1.key }) {
                Terminal.line("  \(kind) events before \(cutoff) are left out of projections, profiles and exports")
            }
            Terminal.line(result.note)
            if let path = report {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                do {
                    try encoder.encode(signed).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    throw VaultError.io(path: path, detail: error.localizedDescription)
                }
                Terminal.line("Signed report written to \(path).")
            }
        }
    }
}
