import ArgumentParser
import CofferDashboard
import CofferPolicy
import CofferStore
import Foundation

/// `coffer report processing`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports: the record of processing (GDPR Art. 30); the dashboard's pages as one file.",
        subcommands: [Processing.self, Dashboard.self]
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

    struct Dashboard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every dashboard page the actor's role sees to one self-contained HTML file (audited like an export).",
            discussion: """
                The same pages as `coffer dashboard`, charts and data tables included, with the stylesheet \
                inline and nothing to fetch: the file opens offline. Treat it as the data it shows: aggregates, \
                with cells below the minimum group size withheld. Its SHA-256 goes into the audit trail.
                """
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Where to write the report.", valueName: "FILE.html")) var out: String

        func run() throws {
            let vault = try options.unlock()
            let html = try DashboardDesk(vault: vault, policy: try options.policy()).staticReport()
            do {
                try AtomicFile.write(Data(html.utf8), to: URL(fileURLWithPath: out))
            } catch {
                throw CommandFailure(message: "cannot write \(out): \(error.localizedDescription)")
            }
            Terminal.line("Wrote \(out) (\(html.utf8.count / 1024) KiB): the dashboard of \(vault.actor) (\(vault.role.rawValue)); audited as dashboard-export.")
        }
    }
}
