import ArgumentParser
import CofferActivation
import CofferBench
import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import CofferFormats

/// `coffer demo [generate]` and `coffer demo campaigns`.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate a realistic café data set and ingest it; replay the café's campaigns of the last weeks.",
        subcommands: [Generate.self, Campaigns.self],
        defaultSubcommand: Generate.self
    )
}

extension DemoCommand {
/// `coffer demo generate`: generate a café's data, ingest it, summarise.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a realistic café data set, ingest it into the vault, and summarise (the default).",
        discussion: """
            Creates the vault first if there is none (passphrase as for `coffer init`). The data set is \
            deterministic for a seed and size, so running the demo twice adds nothing the second time \
            (every record is recognised as a duplicate).
            """
    )

    @OptionGroup var options: VaultOptions

    @Option(help: ArgumentHelp("Number of customers.", valueName: "N"))
    var customers: Int = 1000

    @Option(help: ArgumentHelp("Random seed: the same seed and size give the same data.", valueName: "SEED"))
    var seed: UInt64 = 2026

    @Option(help: ArgumentHelp("Also write the generated inputs (segment.jsonl, retail.csv, till-items.csv) to DIR, in clear.", valueName: "DIR"))
    var writeFiles: String?

    func validate() throws {
        guard (1...1_000_000).contains(customers) else { throw ValidationError("--customers must be between 1 and 1000000") }
    }

    func run() throws {
        let policy = try options.policy()
        let layout = options.layout
        let vault: Vault
        if layout.isInitialized {
            vault = try options.unlock()
        } else {
            vault = try layout.createAsking(passphraseFile: options.passphraseFile)
            Terminal.line("Created vault \(vault.vaultID.hexString) at \(layout.directory.path)")
            try VaultPolicy.apply(policyPath: policy.file, segmentsPath: nil, vault: vault)
        }
        var configuration = DemoConfiguration()
        configuration.customers = customers
        configuration.seed = seed
        configuration.start = DemoConfiguration.yearEnding(before: EventLog.now())
        let clock = Stopwatch()
        let data = DemoGenerator.generate(configuration)
        Terminal.line("Generated \(customers) customers of Coffer Café: \(data.segmentLines.count) Segment events, "
            + "\(data.retailRows.count) till rows, \(data.tillCarts.count) loyalty carts as line items (seed \(seed)).")
        if let writeFiles {
            // Personal data in clear: owner-only, like the vault.
            try FileManager.default.createDirectory(atPath: writeFiles, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Data(data.segmentJSONL.utf8), to: URL(fileURLWithPath: writeFiles + "/segment.jsonl"))
            try AtomicFile.write(Data(data.retailCSV.utf8), to: URL(fileURLWithPath: writeFiles + "/retail.csv"))
            try AtomicFile.write(Data(data.tillCSV.utf8), to: URL(fileURLWithPath: writeFiles + "/till-items.csv"))
            Terminal.line("Wrote \(writeFiles)/segment.jsonl, retail.csv and till-items.csv (personal data in clear: delete when done)")
        }
        let ingestor = try Ingestor(vault: vault, policy: policy)
        let segment = try ingestor.ingest(records: data.segmentLines, file: "demo:segment.jsonl", format: .jsonl)
        let retail = try ingestor.ingest(records: data.retailRows, file: "demo:retail.csv", format: .csv,
                                         mapping: data.retailMapping, header: data.retailHeader)
        let till = try ingestor.ingest(records: data.tillCarts, file: "demo:till-items.csv", format: .csv,
                                       mapping: data.tillMapping, header: data.tillHeader)
        // Withdrawals in the data leave projections already built (a second demo run on a built vault).
        try ConsentCommand.takeEffect(segment.withdrawals + retail.withdrawals, vault: vault, policy: policy)
        let seconds = clock.elapsed
        Terminal.line("")
        Terminal.line("Activity generated:")
        for (name, count) in data.activity.sorted(by: { $0.key < $1.key }) {
            Terminal.line("  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(count)")
        }
        Terminal.line("")
        Terminal.line("Ingested web/app/email/social events: " + segment.summaryLines.joined(separator: "\n"))
        Terminal.line("Ingested till purchases (CSV mapping): " + retail.summaryLines.joined(separator: "\n"))
        Terminal.line("Ingested till line items (one cart per event): " + till.summaryLines.joined(separator: "\n"))
        var total = segment
        total.add(retail)
        total.add(till)
        Terminal.line(String(format: "Total: %d records in %.1f s (%.0f records/s)", total.records, seconds, Double(total.records) / seconds))

        let report = try LogVerifier.verify(layout: layout)
        Terminal.line(report.isValid
            ? "Log verified: \(report.eventCount) events, \(report.checkpointCount) signed checkpoints."
            : "Log verification FAILED: \(report.failure!)")
        if let sample = try vault.subjectSummary(for: Identifier(type: .email, raw: data.sampleEmail)!) {
            Terminal.line("")
            Terminal.line("One customer, as the owner sees them (identity resolution joined web, app and till):")
            Terminal.line("  identifiers: " + sample.identifiers.map(\.description).joined(separator: ", "))
            Terminal.line("  events: \(sample.totalEvents) — " + sample.eventCounts.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
            if !sample.merged.isEmpty { Terminal.line("  merged subjects: \(sample.merged.count)") }
        }
        Terminal.line("")
        Terminal.line("Next: coffer subject show email:\(data.sampleEmail)")
        Terminal.line("      coffer consent show --subject email:\(data.sampleEmail)")
        Terminal.line("      coffer policy explain --role analyst --purpose marketing")
        Terminal.line("      coffer quarantine list")
        Terminal.line("      coffer audit log")
        Terminal.line("      coffer request export --subject email:\(data.sampleEmail) --out customer.zip --actor dpo   (a compliance actor)")
        Terminal.line("      coffer verify && coffer audit verify")
    }
}

/// `coffer demo campaigns`: the café's use cases as campaigns of the last weeks, exported and answered.
struct Campaigns: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the café's marketing of the last weeks: one campaign per use case, exported and answered.",
        discussion: """
            For the demo vault, after `coffer project build`. Each use case of the café (loyalty rewards, \
            birthday offers, online-ordering and app-adoption offers, a social-advocacy reward, review \
            requests, a personalised email with recommended items, a time-sensitive promo to frequent \
            openers) is a segment of the shipped segments.yaml and a campaign with a 20 % holdout, created \
            (owner) and exported (--marketer) as of the day it went out, days apart over the last \
            seven weeks, with that day's consent and frequency-cap checks. Then the customers answer: the \
            email tool's delivered, opened, clicked, bounced and unsubscribed events (as its CSV export) \
            and purchases, app sessions, shares and reviews (as Segment events) come in; the holdout gets \
            nothing. `coffer campaign report NAME` then measures each against its holdout. A simulation: \
            members come from today's projection. Use cases that ran before are left alone.
            """
    )

    @OptionGroup var options: VaultOptions

    @Option(help: ArgumentHelp("The actor who exports (a marketing role); its passphrase as for --actor.", valueName: "NAME"))
    var marketer: String

    @Option(help: ArgumentHelp("Read the marketer's passphrase from FILE (else $COFFER_PASSPHRASE, else a prompt).", valueName: "FILE"))
    var marketerPassphraseFile: String?

    @Option(help: ArgumentHelp("Where the exported audiences and their manifests go.", valueName: "DIR"))
    var out: String

    @Option(help: ArgumentHelp("Random seed of the answers.", valueName: "SEED"))
    var seed: UInt64 = 2026

    func run() throws {
        let policy = try options.policy()
        let owner = try options.unlock()
        let marketer = try options.layout.unlockAsking(actor: self.marketer, passphraseFile: marketerPassphraseFile)
        try VaultPolicy.verify(marketer)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure(message: "cannot create \(out): \(error.localizedDescription)")
        }
        let simulation = CafeCampaignSimulation(owner: owner, marketer: marketer, policy: policy, seed: seed,
                                                directory: URL(fileURLWithPath: out))
        let run = try simulation.run { outcome in
            let useCase = outcome.useCase
            Terminal.line("\(useCase.title): campaign \(useCase.campaign), segment \(useCase.segment), \(useCase.channel.rawValue), "
                + "\(useCase.daysAgo) days ago" + (useCase.validDays.map { ", valid \($0) days" } ?? ""))
            if let skipped = outcome.skipped {
                Terminal.line("  not run now: \(skipped)")
                return
            }
            Terminal.line("  groups: " + outcome.groups.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            if let export = outcome.exported {
                let leftOut = export.leftOutSummary
                Terminal.line("  exported by \(self.marketer): \(export.members) to \(export.file.path) (\(export.destination.name))"
                    + (leftOut.isEmpty ? "" : "; left out: \(leftOut)"))
            }
            Terminal.line("  answers: \(outcome.toolEvents) email-tool event(s), \(outcome.customerEvents) customer event(s)")
        }
        for (name, report) in [("email tool's events (CSV)", run.toolEvents), ("customers' answers (Segment)", run.customerEvents)] {
            guard let report else { continue }
            Terminal.line("Ingested the \(name): " + report.summaryLines.joined(separator: "\n"))
        }
        let ran = run.outcomes.filter { $0.skipped == nil }
        Terminal.line("")
        Terminal.line(ran.isEmpty ? "Nothing new to run." : "Next, each measured against its holdout:")
        for outcome in run.outcomes where outcome.exported != nil || outcome.skipped?.hasPrefix("ran before") == true {
            Terminal.line("  coffer campaign report \(outcome.useCase.campaign) --window \(outcome.useCase.reportWindow)")
        }
    }
}
}
