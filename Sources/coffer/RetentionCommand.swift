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
            abstract: "Destroy events and quarantined input past the policy's retention periods (signed report).",
            discussion: """
                Owner or compliance; audited. Each subject's collected events (identify, track, page, screen, \
                alias, group, rectify) are sealed under one key per kind and calendar month. Once every event a \
                month can hold is past its kind's period, that month's keys are destroyed: the events stay in the \
                append-only log, unreadable for ever (crypto-shredding, as erasure does). Consent, merge, \
                restriction and erasure records are evidence and stay until the person is erased. Rejected input \
                older than `retention: quarantine:` is deleted. Then the WAL is truncated. \
                A vault from before key epochs is moved onto them by its first run (its events are sealed again \
                under month keys, those already past retention are left behind). Events past their period are \
                left out of every projection, profile and export from the day the period passes, before this runs. \
                --dry-run reports what would be destroyed and destroys nothing.
                """)
        @OptionGroup var options: VaultOptions
        @Flag(help: "Report what would be destroyed, destroy nothing.") var dryRun = false
        @Option(help: ArgumentHelp("Write the signed report (JSON) to FILE.", valueName: "FILE")) var report: String?

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let signed = try RetentionRun.apply(vault: vault, policy: policy, dryRun: dryRun)
            let result = signed.report
            let verb = dryRun ? "would be" : "were"
            if let legacy = result.legacyReseal {
                Terminal.line(dryRun
                    ? "Legacy keys: \(legacy.subjects) subject(s) from before key epochs; their \(legacy.eventsResealed) event(s) would be sealed again by month."
                    : "Legacy keys: \(legacy.subjects) subject(s) moved onto key epochs; \(legacy.eventsResealed) event(s) sealed again "
                        + "(log seq \(legacy.firstSeq)–\(legacy.lastSeq)), \(legacy.eventsDropped) past retention left unreadable.")
            }
            if result.epochs.isEmpty {
                Terminal.line("Key epochs: none past retention.")
            } else {
                Terminal.line("Key epochs: \(result.epochs.count) kind-month(s) past retention; their keys \(verb) destroyed, "
                    + "\(result.eventsDestroyed) event(s) \(dryRun ? "would become" : "are now") unreadable.")
                for epoch in result.epochs.prefix(24) {
                    Terminal.line("  \(epoch.kind) \(epoch.month): \(epoch.eventsUnreadable) event(s) of \(epoch.subjects) subject(s)")
                }
                if result.epochs.count > 24 { Terminal.line("  … \(result.epochs.count - 24) more month(s) in the report") }
            }
            Terminal.line("Quarantine: \(result.quarantineDeleted) record(s) received before "
                + "\(result.quarantineCutoff ?? "(no period: retention has no quarantine entry)") \(verb) deleted.")
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
