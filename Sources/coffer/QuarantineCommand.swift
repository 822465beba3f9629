import ArgumentParser
import CofferIngest
import CofferStore
import Foundation

/// `coffer quarantine list|retry`
struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "Inspect and retry rejected input records.",
        subcommands: [List.self, Retry.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List quarantined records with file, line and reason.")

        @OptionGroup var options: VaultOptions

        @Flag(help: "Also print each record's content (it may hold personal data).")
        var showRecords = false

        func run() throws {
            let vault = try options.unlock()
            let records = try vault.quarantinedRecords()
            if records.isEmpty {
                Terminal.line("quarantine is empty")
                return
            }
            for record in records {
                Terminal.line("#\(record.id)  \(record.file):\(record.line) (byte \(record.byteOffset), \(record.format))  \(record.reason)")
                if showRecords {
                    let text = String(decoding: record.record.prefix(400), as: UTF8.self)
                    Terminal.line("    \(text)\(record.record.count > 400 ? "…" : "")")
                }
            }
            Terminal.line("\(records.count) quarantined record(s)")
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Re-check quarantined records; those that now pass are ingested and released.",
            discussion: "For CSV rows the mapping file is read again, so fix the mapping and retry. Consent-CSV rows go back through the policy as it is now."
        )

        @OptionGroup var options: VaultOptions

        func run() throws {
            let vault = try options.unlock()
            let policy = try options.policy()
            let result = try Ingestor(vault: vault, policy: policy).retryQuarantine()
            Terminal.line("released \(result.released) (accepted \(result.ingest.accepted), duplicate \(result.ingest.duplicates)); "
                + "still quarantined \(result.stillRejected)")
            try ConsentCommand.takeEffect(result.ingest.withdrawals, vault: vault, policy: policy)
        }
    }
}
