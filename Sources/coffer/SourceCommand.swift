import ArgumentParser
import CofferFormats
import CofferStore
import Foundation

/// `coffer source add|list|revoke`: the systems that send events to `coffer serve`.
struct SourceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "source",
        abstract: "Manage the sources that send events live to `coffer serve`, and their write keys (owner only).",
        subcommands: [Add.self, List.self, Revoke.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a source and print its new write key (shown once; the vault keeps only a keyed hash).")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The source's name, e.g. website.") var name: String
        @Option(help: "What sends: web, app, server, pos or email.") var kind: EventSource.Kind
        @Option(name: .customLong("origin"), parsing: .upToNextOption,
                help: ArgumentHelp("Browser origins allowed to send with this key (CORS), e.g. https://shop.example.", valueName: "URL"))
        var origins: [String] = []

        func run() throws {
            let vault = try options.unlock()
            let key = try vault.addSource(name, kind: kind, origins: origins, at: EventLog.now())
            Terminal.line("Added source '\(name)' (\(kind.rawValue)). Its write key, shown only now:")
            Terminal.line(key)
            Terminal.line("Send with it as HTTP Basic user (base64 of KEY:) or as \"writeKey\" in the body; `coffer source revoke \(name)` stops it.")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the sources, active and revoked.")
        @OptionGroup var options: VaultOptions

        func run() throws {
            let sources = try options.unlock().sources()
            guard !sources.isEmpty else { return Terminal.line("no sources; add one with `coffer source add NAME --kind web`") }
            for source in sources {
                let state = source.revokedAt.map { "revoked \(Timestamp.format($0))" } ?? "active"
                let origins = source.origins.isEmpty ? "" : "  origins: " + source.origins.joined(separator: " ")
                Terminal.line("\(source.name)  \(source.kind.rawValue)  key \(source.keyHint)…  added \(Timestamp.format(source.createdAt))  \(state)\(origins)")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a source's write key; the collector refuses it within seconds.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The source's name.") var name: String

        func run() throws {
            try options.unlock().revokeSource(name, at: EventLog.now())
            Terminal.line("Revoked source '\(name)'.")
        }
    }
}
