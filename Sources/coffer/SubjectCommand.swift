import ArgumentParser
import CofferIngest
import CofferStore
import Foundation
import CofferFormats

/// `coffer subject show ID`
struct SubjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subject",
        abstract: "Look up a data subject (owner and compliance roles).",
        subcommands: [Show.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "List a subject's identifiers and event counts.",
            discussion: "ID is TYPE:VALUE with TYPE one of email, phone, user, anon, loyalty (e.g. email:alice@example.com)."
        )

        @OptionGroup var options: VaultOptions

        @Argument(help: ArgumentHelp("The identifier to look up.", valueName: "ID"))
        var id: String

        func run() throws {
            let identifier = try options.identifier(id)
            let vault = try options.unlock()
            guard let summary = try vault.subjectSummary(for: identifier) else {
                throw CommandFailure(message: "no subject has the identifier \(identifier.type.rawValue):…")
            }
            Terminal.line("subject \(summary.subject.hex)")
            if !summary.merged.isEmpty {
                Terminal.line("merged from \(summary.merged.map(\.hex).joined(separator: ", "))")
            }
            Terminal.line("identifiers:")
            for item in summary.identifiers { Terminal.line("  \(item)") }
            Terminal.line("events: \(summary.totalEvents)")
            for (kind, count) in summary.eventCounts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                Terminal.line("  \(kind.rawValue): \(count)")
            }
            if let first = summary.firstRecorded, let last = summary.lastRecorded {
                Terminal.line("recorded: \(Timestamp.format(first)) … \(Timestamp.format(last))")
            }
        }
    }
}
