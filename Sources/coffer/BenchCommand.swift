import ArgumentParser
import CofferActivation
import CofferAnalysis
import CofferBench
import CofferDashboard
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferPublish
import CofferStore
import Foundation

/// `coffer bench …`: measured speed and memory, printed as figures.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed and memory (build with -c release for meaningful figures).",
        subcommands: [BenchAudienceCommand.self, BenchDashboardCommand.self, BenchAppendCommand.self, BenchIngestCommand.self, BenchProjectCommand.self, BenchPublishCommand.self, BenchRequestCommand.self,
                      BenchServeCommand.self, BenchClvCommand.self]
    )
}

/// `coffer bench append`.
struct BenchAppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append encrypted, chained events and report events/s and peak memory.",
        discussion: """
            Without --vault, a throw-away vault is made in a temporary directory and removed afterwards. \
            With --vault, the vault is created if missing (passphrase as for `coffer init`) and the \
            events are kept.
            """
    )

    @Option(help: ArgumentHelp("Events to append.", valueName: "N"))
    var events: Int = 1_000_000

    @Option(help: ArgumentHelp("Approximate payload size in bytes.", valueName: "BYTES"))
    var payloadBytes: Int = 400

    @Option(help: ArgumentHelp("Distinct subjects (one data key each).", valueName: "N"))
    var subjects: Int = 100_000

    @Option(help: ArgumentHelp("Events per transaction and signed checkpoint.", valueName: "N"))
    var batch: Int = 10_000

    @Option(name: .long, help: ArgumentHelp("Append into this vault instead of a throw-away one.", valueName: "DIR"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Passphrase file for --vault.", valueName: "FILE"))
    var passphraseFile: String?

    @Flag(help: "Print `committed SEQ` after every durable batch.")
    var reportBatches = false

    @Flag(help: "Skip verifying the chain afterwards.")
    var noVerify = false

    func validate() throws {
        guard events > 0, batch > 0, subjects > 0, payloadBytes > 0 else {
            throw ValidationError("--events, --batch, --subjects and --payload-bytes must be positive")
        }
    }

    func run() throws {
        var configuration = AppendBenchmark.Configuration()
        configuration.events = events
        configuration.payloadBytes = payloadBytes
        configuration.subjects = min(subjects, events)
        configuration.batchSize = batch
        configuration.verify = !noVerify

        let temporary: URL?
        let layout: VaultLayout
        if let vault {
            temporary = nil
            layout = VaultLayout(directory: URL(fileURLWithPath: vault))
        } else {
            temporary = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
            layout = VaultLayout(directory: temporary!)
        }
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }

        let opened: Vault
        if layout.isInitialized {
            opened = try layout.unlockAsking(passphraseFile: passphraseFile)
        } else if temporary != nil {
            opened = try Vault.create(layout: layout, ownerPassphrase: SecureBytes.random(count: 32))
        } else {
            opened = try layout.createAsking(passphraseFile: passphraseFile)
        }

        Terminal.note("bench append: \(events) events of ~\(payloadBytes) B over \(configuration.subjects) subjects, "
            + "batches of \(batch)")
        let clock = Stopwatch()
        let result = try AppendBenchmark(configuration: configuration).run(vault: opened) { receipt in
            if reportBatches { Terminal.line("committed \(receipt.lastSeq)") }
            let rate = Double(receipt.lastSeq) / max(clock.elapsed, 0.001)
            Terminal.progress("appended \(receipt.lastSeq)/\(events) (\(Int(rate)) events/s)")
        }
        Terminal.endProgress()
        Terminal.line("events:            \(result.events)")
        Terminal.line(String(format: "time:              %.2f s", result.seconds))
        Terminal.line(String(format: "throughput:        %.0f events/s", result.eventsPerSecond))
        Terminal.line("peak RSS (append): \(ResourceUsage.mebibytes(result.peakAppendRSS))")
        Terminal.line("peak RSS (process, incl. scrypt): \(ResourceUsage.mebibytes(result.processPeakRSS))")
        Terminal.line("database size:     \(ResourceUsage.mebibytes(result.databaseBytes))")
        if let verify = result.verifySeconds {
            Terminal.line(String(format: "verify:            %.2f s (%.0f events/s)", verify, Double(result.events) / verify))
        }
    }
}

/// `coffer bench ingest`.
struct BenchIngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest Segment events end to end from a file and report events/s and peak memory.",
        discussion: """
            Writes a JSONL file of realistic ~400-byte Segment events to a temporary directory, then \
            streams it through `coffer ingest`'s pipeline (parse, validate, normalise, tokenise, dedup, \
            encrypt, chain, append) into a throw-away vault. Both are removed afterwards.
            """
    )

    @Option(help: ArgumentHelp("Events in the input file.", valueName: "N"))
    var events: Int = 1_000_000

    @Option(help: ArgumentHelp("Distinct users.", valueName: "N"))
    var users: Int = 100_000

    @Option(help: ArgumentHelp("Records per transaction.", valueName: "N"))
    var batch: Int = Ingestor.defaultBatchSize

    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard events > 0, users > 0, batch > 0 else { throw ValidationError("--events, --users and --batch must be positive") }
    }

    func run() throws {
        let policy = try policyOption.load()
        var configuration = IngestBenchmark.Configuration()
        configuration.events = events
        configuration.users = min(users, events)
        configuration.batchSize = batch
        let benchmark = IngestBenchmark(configuration: configuration)
        let result = try BenchScratch.run { directory in
            let input = directory.appendingPathComponent("events.jsonl")
            Terminal.note("bench ingest: writing \(events) Segment events for \(configuration.users) users…")
            try benchmark.writeInput(to: input)
            let vault = try Vault.create(layout: VaultLayout(directory: directory.appendingPathComponent("vault")),
                                         ownerPassphrase: SecureBytes.random(count: 32))
            let reporter = ProgressReporter(label: "ingest")
            defer { reporter.finish() }
            return try benchmark.run(vault: vault, input: input, policy: policy, progress: reporter.update) { point in
                Terminal.endProgress()
                let live = point.allocated.map { ", allocated \(ResourceUsage.mebibytes(UInt64(max($0, 0))))" } ?? ""
                Terminal.note(String(format: "bench ingest: events %@–%@: %.0f events/s, RSS %@ (SQLite %@%@)", Self.count(point.from),
                                     Self.count(point.to), point.eventsPerSecond, ResourceUsage.mebibytes(point.rss),
                                     ResourceUsage.mebibytes(UInt64(max(point.sqliteHeap, 0))), live))
            }
        }
        Terminal.line("records:           \(result.report.records) (accepted \(result.report.accepted), duplicate \(result.report.duplicates), quarantined \(result.report.quarantined))")
        Terminal.line("input:             \(ResourceUsage.mebibytes(UInt64(result.inputBytes))) (\(result.inputBytes / max(result.report.records, 1)) B/event)")
        Terminal.line(String(format: "time:              %.2f s", result.seconds))
        Terminal.line(String(format: "throughput:        %.0f events/s", result.eventsPerSecond))
        Terminal.line("allocator:         \(ResourceUsage.allocator)")
        Terminal.line("RSS at start:      \(ResourceUsage.mebibytes(result.startRSS))")
        Terminal.line("peak RSS, first 10%: \(ResourceUsage.mebibytes(result.earlyPeakRSS))")
        Terminal.line("peak RSS, whole run: \(ResourceUsage.mebibytes(result.peakIngestRSS))")
        if let first = result.curve.first, let last = result.curve.last, result.curve.count > 1 {
            Terminal.line("curve (events/s):  " + result.curve.map {
                "\(Self.count($0.to)) \(String(format: "%.0f", $0.eventsPerSecond))"
            }.joined(separator: ", "))
            // The first step also starts the pipeline: the fastest step shows the decline too.
            let fastest = result.curve.map(\.eventsPerSecond).max() ?? 1
            Terminal.line(String(format: "last step / first step: %.2f; last / fastest: %.2f", last.eventsPerSecond / max(first.eventsPerSecond, 1e-9),
                                 last.eventsPerSecond / max(fastest, 1e-9)))
        }
    }

    /// 1000000 → "1M", 250000 → "250k".
    static func count(_ value: Int) -> String {
        if value == 0 { return "0" }
        if value % 1_000_000 == 0 { return "\(value / 1_000_000)M" }
        if value % 1000 == 0 { return "\(value / 1000)k" }
        return String(value)
    }
}

/// `coffer bench project`
struct BenchProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Time and peak memory to build the single view, segments and every projection.",
        discussion: """
            Appends N café events (identify, orders, visits, email) for the given number of people, and \
            a marketing consent for 60 % of them, to a throw-away vault; then times reading the log into \
            single views and building every projection of the policy. The vault is removed afterwards.
            """
    )

    @Option(help: ArgumentHelp("Events in the log.", valueName: "N")) var events: Int = 1_000_000
    @Option(help: ArgumentHelp("People (default: events / 10).", valueName: "N")) var people: Int?
    @Option(help: ArgumentHelp("Instead of generated events: a till CSV (e.g. the seed's table 1), ingested with --mapping; "
                               + "its last 10,000 rows are held back for the incremental build.", valueName: "FILE"))
    var csv: String?
    @Option(help: ArgumentHelp("The column mapping of --csv.", valueName: "FILE")) var mapping: String?
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard events > 0, (people ?? 1) > 0 else { throw ValidationError("--events and --people must be positive") }
        guard (csv == nil) == (mapping == nil) else { throw ValidationError("--csv and --mapping go together") }
    }

    func run() throws {
        let policy = try policyOption.load()
        let segments = try SegmentCatalog.load(path: SegmentCatalog.resolvePath(explicit: nil, policyPath: policy.file), policy: policy)
        if let csv, let mapping {
            try runCSV(csv, mapping: try CSVMapping.load(path: mapping), policy: policy, segments: segments)
            return
        }
        var configuration = ProjectBenchmark.Configuration()
        configuration.events = events
        configuration.subjects = min(people ?? max(events / 10, 1), events)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let vault = try Vault.create(layout: VaultLayout(directory: directory.appendingPathComponent("vault")),
                                     ownerPassphrase: SecureBytes.random(count: 32))
        Terminal.note("bench project: appending \(events) events for \(configuration.subjects) people…")
        let result = try ProjectBenchmark(configuration: configuration).run(vault: vault, policy: policy, segments: segments) {
            Terminal.note("bench project: \($0)…")
        }
        Terminal.line("events:            \(result.events) of \(result.people) people (+ consents)")
        Terminal.line(String(format: "setup (append):    %.1f s", result.appendSeconds))
        Terminal.line(String(format: "read log → views:  %.2f s (%.0f events/s; %.2f s of CPU on %d cores)", result.readSeconds,
                             Double(result.events) / result.readSeconds, result.readCPUSeconds, ProcessInfo.processInfo.activeProcessorCount))
        Terminal.line(String(format: "full build:        %.2f s (read + %d projections with segments, encrypted): %@",
                             result.buildSeconds, result.projections.count, Self.phases(result.buildTimings)))
        Terminal.line(String(format: "  without analysis: %.2f s (%@): the analysis adds %.0f %% (models, RFM and recommendations %.2f s; "
                             + "pattern tables in the files)", result.withoutAnalysisSeconds, Self.phases(result.withoutAnalysisTimings),
                             (result.buildSeconds / result.withoutAnalysisSeconds - 1) * 100, result.buildTimings.analysis))
        for summary in result.projections {
            Terminal.line("  \(summary.purpose).\(summary.role.rawValue): \(summary.subjects) people, \(summary.segments.count) segments, "
                + ResourceUsage.mebibytes(UInt64(summary.bytes)))
        }
        Terminal.line(String(format: "incremental build: %.2f s after %d more events (%d read; every projection rewritten): %@",
                             result.incrementalSeconds, result.addedEvents, result.incrementalReadEvents,
                             Self.phases(result.incrementalTimings)))
        Terminal.line("RSS before build:  \(ResourceUsage.mebibytes(result.rssBeforeBuild))")
        Terminal.line("peak RSS in read:  \(ResourceUsage.mebibytes(result.peakReadRSS))")
        Terminal.line("peak RSS in build: \(ResourceUsage.mebibytes(result.peakBuildRSS))")
    }

    func runCSV(_ csv: String, mapping: CSVMapping, policy: Policy, segments: [SegmentDefinition]) throws {
        let result = try BenchScratch.run { directory in
            try CSVProjectBenchmark(csv: URL(fileURLWithPath: csv), mapping: mapping)
                .run(in: directory, policy: policy, segments: segments) { Terminal.note("bench project: \($0)…") }
        }
        Terminal.line("rows:              \(result.rows) (\(result.people) people)")
        Terminal.line(String(format: "ingest:            %.1f s (%.0f rows/s)", result.ingestSeconds,
                             Double(result.rows - result.heldBack) / max(result.ingestSeconds, 1e-9)))
        Terminal.line(String(format: "full build:        %.2f s: %@", result.fullSeconds, Self.phases(result.fullTimings)))
        Terminal.line("peak RSS in build: \(ResourceUsage.mebibytes(result.peakBuildRSS)) (\(ResourceUsage.mebibytes(result.rssBeforeBuild)) "
            + "before it; \(ResourceUsage.allocator))")
        Terminal.line(String(format: "log opened only:   %.2f s: the %d events the full build read, fetched, decrypted and authenticated on %d "
                             + "threads, nothing folded (the floor under its read)", result.openFloor.seconds, result.openFloor.events,
                             result.openFloor.threads))
        Terminal.line(String(format: "incremental build: %.2f s after %d more rows (%d events read): %@", result.incrementalSeconds,
                             result.heldBack, result.incrementalReadEvents, Self.phases(result.incrementalTimings)))
    }

    static func phases(_ timings: BuildTimings) -> String {
        String(format: "read %.2f s, analysis %.2f s, files %.2f s (with the state save beside them, %.2f s)", timings.read,
               timings.analysis, timings.write, timings.state)
    }
}

/// `coffer bench request`
struct BenchRequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Time to export and to erase one person with many events, in a large vault.",
        discussion: """
            Fills a throw-away vault with N café events of other people plus the person's own events, \
            builds every projection, then, as a compliance actor, exports the person (ZIP bundle) and \
            erases them (purge projections, shred, tombstone, WAL truncation, no-trace check), and \
            verifies the log. The vault is removed afterwards.
            """
    )

    @Option(help: ArgumentHelp("Events in the log, the person's included.", valueName: "N")) var events: Int = 1_000_000
    @Option(help: ArgumentHelp("Events of the person exported and erased.", valueName: "N")) var personEvents: Int = 10_000
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard personEvents > 0, events > personEvents else { throw ValidationError("--events must exceed --person-events (> 0)") }
    }

    func run() throws {
        let policy = try policyOption.load()
        let segments = try SegmentCatalog.load(path: SegmentCatalog.resolvePath(explicit: nil, policyPath: policy.file), policy: policy)
        var configuration = RequestBenchmark.Configuration()
        configuration.events = events - personEvents
        configuration.subjects = max((events - personEvents) / 10, 1)
        configuration.personEvents = personEvents
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        Terminal.note("bench request: building a vault of \(events) events…")
        let result = try RequestBenchmark(configuration: configuration).run(directory: directory, policy: policy, segments: segments) {
            Terminal.note("bench request: \($0)…")
        }
        let receipt = result.receipt
        Terminal.line("log:               \(result.logHeadBefore) events before, \(result.logHeadAfter) after (tombstone only; nothing rewritten)")
        Terminal.line(String(format: "setup:             %.1f s (append, projections, compliance actor)", result.setupSeconds))
        Terminal.line(String(format: "export:            %.3f s for %d events (%@ ZIP)", result.exportSeconds, result.personEvents,
                             ResourceUsage.mebibytes(UInt64(result.exportBytes))))
        Terminal.line(String(format: "erase, total:      %.3f s", result.eraseSeconds))
        Terminal.line("  shred:           \(receipt.shredMillis) ms (\(receipt.shred.keysDestroyed) key, \(receipt.shred.eventsUnreadable) events unreadable, "
            + "tombstone, WAL truncated: \(receipt.shred.walTruncated))")
        Terminal.line("  projection purge: \(receipt.purgeMillis) ms (\(receipt.projections.filter(\.isProjection).count) files"
            + (receipt.projections.contains { !$0.isProjection } ? ", build state dropped)" : ")"))
        Terminal.line("  no-trace check:  \(receipt.traceCheckMillis) ms (\(receipt.traceCheck.filesScanned) files, "
            + "\(ResourceUsage.mebibytes(UInt64(receipt.traceCheck.bytesScanned))), \(receipt.traceCheck.valuesSearched) values): "
            + (receipt.traceCheck.clean ? "clean" : "FOUND \(receipt.traceCheck.findings.count)"))
        for finding in receipt.traceCheck.findings { Terminal.line("    \(finding)") }
        Terminal.line(String(format: "log verify after:  %.2f s, %@", result.verifySeconds, result.logIntact ? "intact" : "BROKEN"))
        Terminal.line("peak RSS (export + erase): \(ResourceUsage.mebibytes(result.peakRSS))")
    }
}

/// `coffer bench publish`
struct BenchPublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Time to publish a purpose's projection to two ClickHouse shards, to publish again after more events, "
            + "and from an erasure to its verified invisibility.",
        discussion: """
            Fills a throw-away vault with café events of N people, builds the projections, and publishes \
            the purpose (default analytics, everyone in it) for the analyst role: in full, then again after \
            --added more events (incremental build, then publish), then the same with builds that leave the \
            analysis columns out (their refit changes most people's rows), then erases one person and syncs \
            until every shard shows them gone. Beside it, in the same run, ClickHouse takes 2M plain rows through \
            the same client (the reference). Two servers are started on loopback (Debian's \
            clickhouse-server) unless --to and --shard name a cluster `coffer`.
            """
    )

    @Option(help: ArgumentHelp("People in the projection.", valueName: "N")) var subjects = 100_000
    @Option(help: ArgumentHelp("Events in the log.", valueName: "N")) var events = 1_000_000
    @Option(help: ArgumentHelp("Events added before the incremental publish.", valueName: "N")) var added = 10_000
    @Option(help: ArgumentHelp("The purpose published.", valueName: "PURPOSE")) var purpose = "analytics"
    @Option(help: ArgumentHelp("An existing first shard (with --shard; credentials from the environment).", valueName: "URL")) var to: String?
    @Option(name: .customLong("shard"), help: ArgumentHelp("A further existing shard.", valueName: "URL")) var shards: [String] = []
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard subjects > 0, events > 0, added > 0 else { throw ValidationError("--subjects, --events and --added must be positive") }
    }

    func run() throws {
        let policy = try policyOption.load()
        let segments = try SegmentCatalog.load(path: SegmentCatalog.resolvePath(explicit: nil, policyPath: policy.file), policy: policy)
        var configuration = PublishBenchmark.Configuration()
        configuration.subjects = subjects
        configuration.events = events
        configuration.added = added
        configuration.purpose = purpose
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        Terminal.note("bench publish: building a vault of \(events) events of \(subjects) people…")
        let credentials = try ClickHouseCredentials.load(file: nil, environment: CommandContext.current.environment)
        let result = try PublishBenchmark(configuration: configuration).run(
            directory: directory, policy: policy, segments: segments, shards: to.map { [$0] + shards }, credentials: credentials) {
            Terminal.note("bench publish: \($0)…")
        }
        func tables(_ manifest: PublishManifest) -> String {
            manifest.tables.sorted { $0.key < $1.key }.map { "\($0.key.dropFirst(purpose.count + 1)) \($0.value)" }.joined(separator: ", ")
        }
        func phases(_ timings: [String: Double]) -> String {
            ["read", "record", "send", "sync", "verify", "manifest"].compactMap { name in
                timings[name].map { String(format: "%@ %.2f", name, $0) }
            }.joined(separator: ", ")
        }
        Terminal.line(String(format: "setup:        %.1f s (append, projections)", result.setupSeconds))
        Terminal.line(String(format: "full publish: %.2f s, %d people to %d shards (%@)", result.fullSeconds, result.full.people,
                             result.shards, tables(result.full)))
        Terminal.line("  phases: \(phases(result.fullTimings)); RSS \(ResourceUsage.mebibytes(result.rssBefore)) before it "
            + "(the build's, kept by the allocator), peak \(ResourceUsage.mebibytes(result.fullPeakRSS)) during it")
        Terminal.line(String(format: "incremental:  %.2f s after %d events (build %.2f s first): %d added, %d replaced, %d removed",
                             result.incrementalSeconds, result.addedEvents, result.incrementalBuildSeconds, result.incremental.added,
                             result.incremental.replaced, result.incremental.removed))
        Terminal.line("  phases: \(phases(result.incrementalTimings))")
        Terminal.line(String(format: "incremental, builds without the analysis columns (no refit moving everyone's scores): %.2f s after %d events: "
                             + "%d added, %d replaced, %d removed", result.steadySeconds, result.addedEvents, result.steady.added,
                             result.steady.replaced, result.steady.removed))
        Terminal.line("  phases: \(phases(result.steadyTimings))")
        Terminal.line(String(format: "erasure → verified gone on every shard: %.2f s (the remote sync %.2f s of it); "
                             + "the whole erasure with its no-trace check and receipt %.2f s: %@",
                             result.invisibleAfter, result.syncSeconds, result.eraseSeconds, result.remoteStatus))
        Terminal.line(String(format: "reference:    %.2f s for %d plain rows through the same client (%.0f rows/s); full publish %.0f people/s",
                             result.referenceSeconds, result.referenceRows, Double(result.referenceRows) / result.referenceSeconds,
                             Double(result.full.people) / result.fullSeconds))
        Terminal.line("peak RSS from the full publish to the end (the incremental build included): \(ResourceUsage.mebibytes(result.peakRSS))")
    }
}

/// `coffer bench serve`
struct BenchServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Acknowledged events/s, latency and memory of `coffer serve`, and the inbox's drain rate beside file ingest.",
        discussion: """
            Starts the collector on a free loopback port of a throw-away vault, and has concurrent \
            clients (one keep-alive connection and one request at a time each) post `bench ingest`'s \
            events in batches to /v1/batch. Then drains the inbox into the vault (`ingest --inbox`) and, \
            for reference in the same run, ingests the same events from a JSONL file into a second vault. \
            Clients and server share this machine's cores. Everything is removed afterwards.
            """
    )

    @Option(help: ArgumentHelp("Events posted in all.", valueName: "N")) var events: Int = 200_000
    @Option(help: ArgumentHelp("Events per request.", valueName: "N")) var batch: Int = 100
    @Option(help: ArgumentHelp("Concurrent clients.", valueName: "N")) var clients: Int = 8
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard events > 0, batch > 0, clients > 0 else { throw ValidationError("--events, --batch and --clients must be positive") }
        guard batch <= 1_000 else { throw ValidationError("--batch is at most 1000: a request is at most 500 KB") }
    }

    func run() throws {
        let policy = try policyOption.load()
        var configuration = ServeBenchmark.Configuration()
        configuration.events = events
        configuration.batchSize = batch
        configuration.clients = clients
        configuration.users = max(1, min(events / 10, 20_000))
        let result = try BenchScratch.run { directory in
            try ServeBenchmark(configuration: configuration).run(directory: directory, policy: policy) { Terminal.note("bench serve: \($0)") }
        }
        let refused = result.refusals.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
        Terminal.line("requests:          \(result.requests) of \(batch) events from \(clients) clients"
            + (refused.isEmpty ? ", all 200" : "; refused: \(refused)"))
        Terminal.line(String(format: "acknowledged:      %d events in %.2f s = %.0f events/s (%.0f requests/s)", result.acknowledgedEvents,
                             result.serveSeconds, result.acknowledgedPerSecond, Double(result.requests) / result.serveSeconds))
        Terminal.line(String(format: "latency:           p50 %.1f ms, p99 %.1f ms, max %.1f ms", result.p50, result.p99, result.max))
        Terminal.line(String(format: "CPU while serving: %.1f s of %.1f s × %d cores (server and clients)", result.serveCPUSeconds,
                             result.serveSeconds, ProcessInfo.processInfo.activeProcessorCount))
        Terminal.line("memory:            RSS \(ResourceUsage.mebibytes(result.rssBefore)) before, peak \(ResourceUsage.mebibytes(result.peakServeRSS)) while serving")
        Terminal.line(String(format: "drain (inbox):     %d requests, %d events (accepted %d, duplicate %d, quarantined %d) in %.2f s = %.0f events/s",
                             result.drain.requests, result.drain.ingest.records, result.drain.ingest.accepted, result.drain.ingest.duplicates,
                             result.drain.ingest.quarantined, result.drainSeconds, result.drainPerSecond))
        Terminal.line(String(format: "file ingest (ref): %d events in %.2f s = %.0f events/s; drain / file = %.2f",
                             result.file.records, result.fileSeconds, result.filePerSecond, result.drainPerSecond / result.filePerSecond))
        if result.drain.ingest.accepted + result.drain.ingest.quarantined + result.drain.ingest.duplicates != result.acknowledgedEvents {
            Terminal.error("the drain did not land exactly the acknowledged events")
            throw ExitCode(1)
        }
    }
}

/// `coffer bench clv`
struct BenchClvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clv",
        abstract: "Time to fit BG/NBD and Gamma-Gamma (lifetime value, churn) to simulated customers.",
        discussion: """
            Simulates customers from known parameters, each observed for 30 to 730 days and counted in \
            whole days as a vault's purchases are, then fits both models by maximum likelihood \
            (Nelder-Mead over log-parameters). Beside the fit, in the same run: one evaluation of the \
            likelihood over customers grouped by (x, tₓ, T), as the fit does, and customer by customer.
            """
    )

    @Option(help: ArgumentHelp("Customers simulated.", valueName: "N")) var customers: Int = 100_000

    func validate() throws {
        guard customers > 0 else { throw ValidationError("--customers must be positive") }
    }

    func run() throws {
        var configuration = ClvBenchmark.Configuration()
        configuration.customers = customers
        let result = ClvBenchmark(configuration: configuration).run()
        let (fit, spend, truth) = (result.purchases, result.spend, result.truth)
        Terminal.line("customers:         \(result.customers) (\(result.groups) distinct histories x, tₓ, T)")
        Terminal.line(String(format: "BG/NBD fit:        %.3f s, %d iterations%@; r %.3f, α %.2f, a %.3f, b %.3f (simulated with %.3g, %.3g, %.3g, %.3g); LL %.1f",
                             result.purchasesSeconds, fit.iterations, fit.converged ? "" : " (NOT converged)", fit.model.r,
                             fit.model.alpha, fit.model.a, fit.model.b, truth.purchases.r, truth.purchases.alpha, truth.purchases.a,
                             truth.purchases.b, fit.logLikelihood))
        Terminal.line(String(format: "Gamma-Gamma fit:   %.3f s, %d iterations%@; p %.2f, q %.2f, γ %.2f (simulated with %.3g, %.3g, %.3g)",
                             result.spendSeconds, spend.iterations, spend.converged ? "" : " (NOT converged)", spend.model.p,
                             spend.model.q, spend.model.gamma, truth.spend.p, truth.spend.q, truth.spend.gamma))
        Terminal.line(String(format: "both:              %.3f s", result.purchasesSeconds + result.spendSeconds))
        Terminal.line(String(format: "one BG/NBD likelihood: %.2f ms grouped, %.2f ms customer by customer (%.1f×)%@",
                             result.groupedEvaluationSeconds * 1000, result.perCustomerEvaluationSeconds * 1000,
                             result.perCustomerEvaluationSeconds / max(result.groupedEvaluationSeconds, 1e-9),
                             result.likelihoodsAgree ? "" : " — THEY DIFFER"))
        if !result.likelihoodsAgree { throw ExitCode(1) }
    }
}

/// `coffer bench audience`
struct BenchAudienceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audience",
        abstract: "Time to export a large email audience with every member checked against the vault's live state.",
        discussion: """
            Fills a throw-away vault with N people who all consent to marketing and to email, builds the \
            projections with one segment of everyone, and exports it as a marketing actor: each member's \
            consent, opt-in, restriction, erasure, opt-outs and sends are checked at export time. Beside it, \
            in the same run: reading the same members' rows from the projection without any check.
            """
    )

    @Option(help: ArgumentHelp("People in the audience.", valueName: "N")) var people: Int = 100_000
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard people > 0 else { throw ValidationError("--people must be positive") }
    }

    func run() throws {
        let policy = try policyOption.load()
        var configuration = AudienceBenchmark.Configuration()
        configuration.people = people
        let result = try BenchScratch.run { directory in
            try AudienceBenchmark(configuration: configuration).run(in: directory, policy: policy) { Terminal.note("bench audience: \($0)…") }
        }
        let export = result.export
        Terminal.line(String(format: "setup:             %.1f s (%d people, events appended, projections built)", result.setupSeconds, result.people))
        Terminal.line(String(format: "export:            %.3f s for %d members (%.0f members/s), live checks included; %@ file",
                             export.seconds, export.members, Double(export.members) / max(export.seconds, 1e-9),
                             ResourceUsage.mebibytes(UInt64(result.fileBytes))))
        Terminal.line(String(format: "reference:         %.3f s to read the same %d rows from the projection, unchecked (export %.1f×)",
                             result.plainReadSeconds, result.plainRows, export.seconds / max(result.plainReadSeconds, 1e-9)))
        Terminal.line("left out:          \(export.leftOut.values.reduce(0, +))"
            + export.leftOut.sorted { $0.key < $1.key }.map { " — \($0.value) \($0.key.rawValue)" }.joined())
        Terminal.line("peak RSS:          \(ResourceUsage.mebibytes(result.peakRSS)) during the export")
    }
}

/// `coffer bench dashboard`
struct BenchDashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Time to render each analyst page of the dashboard from a large projection.",
        discussion: """
            Fills a throw-away vault with N people (5 events each: identifies, purchases with products, \
            pages, screens, email events), builds the projections, and renders each analyst page as the \
            server does (queries, SVG charts, tables, HTML), each several times. Beside it, in the same \
            run: opening (decrypting) the analyst's projection, which a session does once at its first \
            page, and a plain count on it.
            """
    )

    @Option(help: ArgumentHelp("People in the projection.", valueName: "N")) var people: Int = 100_000
    @OptionGroup var policyOption: PolicyOption

    func validate() throws {
        guard people > 0 else { throw ValidationError("--people must be positive") }
    }

    func run() throws {
        let policy = try policyOption.load()
        var configuration = DashboardBenchmark.Configuration()
        configuration.people = people
        let result = try BenchScratch.run { directory in
            try DashboardBenchmark(configuration: configuration).run(in: directory, policy: policy) { Terminal.note("bench dashboard: \($0)…") }
        }
        Terminal.line(String(format: "setup:      %.1f s (%d people, events appended, projections built)", result.setupSeconds, result.people))
        Terminal.line(String(format: "reference:  %.3f s to open (decrypt) the analyst's projection, once a session; %.4f s for count(*) on it",
                             result.openSeconds, result.countSeconds))
        for page in result.pages {
            Terminal.line("page " + page.page.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: "median %6.1f ms (first %6.1f ms), %d KiB of HTML", page.median * 1000, page.first * 1000, page.bytes / 1024))
        }
        let slowest = result.pages.map(\.median).max() ?? 0
        Terminal.line(String(format: "slowest page: %.1f ms (target < 200 ms); peak RSS %@", slowest * 1000, ResourceUsage.mebibytes(result.peakRSS)))
    }
}

/// A throw-away directory for one benchmark's vault and files, removed when `body` returns.
enum BenchScratch {
    static func run<T>(_ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(directory)
    }
}
