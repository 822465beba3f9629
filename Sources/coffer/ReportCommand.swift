import ArgumentParser
import CofferPolicy

/// `coffer report processing`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compliance reports generated from the vault's own policy.",
        subcommands: [Processing.self]
    )

    struct Processing: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the record of processing activities (GDPR Art. 30).",
            discussion: "Purposes, data categories, roles with access, retention and security measures, from the policy in use."
        )
        enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, json }
        @OptionGroup var policyOption: PolicyOption
        @Option(help: "markdown or json.") var format: Format = .markdown

        func run() throws {
            let record = ProcessingRecord(policy: try policyOption.load())
            Terminal.line(format == .json ? try record.json() : record.markdown())
        }
    }
}
