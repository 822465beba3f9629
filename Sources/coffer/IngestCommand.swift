import ArgumentParser
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation

/// `coffer ingest FILE…`
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Import Segment Spec events (JSONL or a JSON array) or CSV rows through a column mapping.",
        discussion: """
            Each record is validated and normalised; identifiers become keyed tokens and link records \
            to one subject; records already imported are skipped; bad records go to the encrypted \
            quarantine with their line and reason (see `coffer quarantine list`) while good ones land.

            Records are at most 32 KB; a longer one is quarantined with its first 32 KB. A broken \
            record never takes the records after it along: JSON arrays resume at the next element, \
            CSV at the next line.

            Exit status: 0 when the files were read (even if some records were quarantined), 1 when a \
            file could not be read at all, or when some of its bytes belong to no record (text outside \
            a JSON array, a stray bracket).
            """
    )

    @OptionGroup var options: VaultOptions

    @Argument(help: ArgumentHelp("Files to import (.jsonl, .json, .csv).", valueName: "FILE"))
    var files: [String] = []

    @Flag(help: "Drain the inbox that `coffer serve` fills: open its sealed requests and import their events, oldest first.")
    var inbox = false

    @Flag(help: "With --inbox: keep draining as requests arrive, until interrupted.")
    var follow = false

    @Option(help: ArgumentHelp("Input format when the file name does not tell: jsonl, json or csv.", valueName: "FORMAT"))
    var format: InputFormat?

    @Option(help: ArgumentHelp("YAML column mapping for CSV files (see examples/retail-mapping.yaml).", valueName: "FILE"))
    var mapping: String?

    @Option(help: ArgumentHelp("Records per transaction.", valueName: "N"))
    var batch: Int = Ingestor.defaultBatchSize

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard inbox != !files.isEmpty else { throw ValidationError("name files to import, or give --inbox (not both)") }
        if follow && !inbox { throw ValidationError("--follow works with --inbox") }
    }

    func run() throws {
        if inbox { return try drainInbox() }
        let csvMapping = try mapping.map { try CSVMapping.load(path: $0) }
        let vault = try options.unlock()
        let policy = try options.policy()
        let ingestor = try Ingestor(vault: vault, policy: policy)
        ingestor.batchSize = batch
        var total = IngestReport()
        var unreadable = 0
        for file in files {
            let reporter = ProgressReporter(label: URL(fileURLWithPath: file).lastPathComponent)
            do {
                let report = try ingestor.ingest(path: file, format: format,
                                                 mapping: csvMapping, mappingPath: mapping.map { URL(fileURLWithPath: $0).path },
                                                 progress: reporter.update)
                reporter.finish()
                Terminal.line("\(file): " + report.summaryLines.joined(separator: "\n"))
                total.add(report)
                try ConsentCommand.takeEffect(report.withdrawals, vault: vault, policy: policy)
                if report.unattributed.count > 0 {
                    Terminal.error("\(file): \(report.unattributed.count) byte(s) belong to no record (from line "
                        + "\(report.unattributed.firstLine ?? 1)), e.g. text outside the JSON array or a stray bracket; "
                        + "they were not imported. Check the file's structure and import it again (what landed is kept).")
                    unreadable += 1
                }
            } catch let error as IngestError {
                reporter.finish()
                Terminal.error(error.description)
                unreadable += 1
            }
        }
        if files.count > 1 { Terminal.line("total: " + total.summaryLines[0]) }
        if unreadable > 0 { throw ExitCode(1) }
    }

    /// `--inbox [--follow]`.
    func drainInbox() throws {
        let vault = try options.unlock()
        let policy = try options.policy()
        let ingestor = try Ingestor(vault: vault, policy: policy)
        ingestor.batchSize = batch
        let drain = try InboxDrain(vault: vault, ingestor: ingestor)
        repeat {
            let report = try drain.drain { report in
                Terminal.progress("inbox: \(report.requests) request(s), \(report.ingest.accepted) event(s) accepted")
            }
            Terminal.endProgress()
            if report.requests > 0 || !follow {
                Terminal.line("inbox: \(report.requests) request(s) drained; " + report.ingest.summaryLines.joined(separator: "\n"))
            }
            try ConsentCommand.takeEffect(report.ingest.withdrawals, vault: vault, policy: policy)
            if follow { Thread.sleep(forTimeInterval: 0.5) }
        } while follow
    }
}
