import ArgumentParser
import CofferCollector
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import Logging
import Synchronization

/// `coffer serve`: the live collector.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Collect events live over HTTP with the Segment Tracking API (analytics.js, analytics-python, RudderStack SDKs).",
        discussion: """
            Serves POST /v1/identify, track, page, screen, group, alias, batch and import (and the short \
            forms /v1/i, t, p, s, g, a, b), GET /health and GET /metrics. Bodies may be JSON or text/plain, \
            optionally gzip; a write key (from `coffer source add`) comes as HTTP Basic user or as \
            "writeKey" in the body. Each accepted request is sealed to the vault's collector key and on \
            disk in vault/inbox.sqlite before the 200: serve needs no passphrase and holds no key that \
            opens anything. `coffer ingest --inbox` imports what it collected; --drain does so here.
            Stops on SIGTERM or SIGINT after answering the requests in flight.
            """
    )

    @OptionGroup var options: VaultOptions

    @Option(help: ArgumentHelp("Where to listen.", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:8080"

    @Flag(help: "Also drain the inbox in this process (asks for the passphrase once, at start).")
    var drain = false

    @Option(help: ArgumentHelp("Requests a second per write key before 429.", valueName: "N"))
    var rateLimit: Double = 2_000

    @Option(help: ArgumentHelp("Client connections open at once; more are closed as they open (this bounds memory).", valueName: "N"))
    var maxConnections = 256

    @Option(help: ArgumentHelp("Seconds a request body may take to arrive (else 408); a connection silent twice as long is closed.", valueName: "S"))
    var requestTimeout = 10

    func validate() throws {
        guard let colon = listen.lastIndex(of: ":"), !listen[..<colon].isEmpty, let port = Int(listen[listen.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 127.0.0.1:8080")
        }
        guard rateLimit > 0 else { throw ValidationError("--rate-limit must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
    }

    func run() throws {
        let colon = listen.lastIndex(of: ":")!
        var configuration = Collector.Configuration()
        configuration.host = String(listen[..<colon])
        configuration.port = Int(listen[listen.index(after: colon)...])!
        configuration.requestsPerSecond = rateLimit
        configuration.maxConnections = maxConnections
        configuration.requestTimeout = .seconds(requestTimeout)
        var logger = Logger(label: "coffer.serve")
        logger.logLevel = .info
        let job = try drain ? drainJob() : nil
        let collector = try Collector(layout: options.layout, configuration: configuration, logger: logger)
        let drainer = job.map { job in DrainThread { job.pass(collector: collector) } }
        let host = configuration.host
        // When the server stopped and committed what it accepted, drain that too before exiting.
        defer { drainer?.stop() }
        try AsyncBridge.wait {
            try await collector.run { port in Terminal.note("coffer serve: listening on \(host):\(port)") }
        }
    }

    /// What `--drain` works with: this process's unlocked vault.
    private func drainJob() throws -> DrainJob {
        let vault = try options.unlock()
        let policy = try options.policy()
        let ingestor = try Ingestor(vault: vault, policy: policy)
        return DrainJob(drain: try InboxDrain(vault: vault, ingestor: ingestor), vault: vault, policy: policy)
    }

    /// One drain of what waits, reported to the terminal and to /metrics.
    private struct DrainJob: @unchecked Sendable {
        let drain: InboxDrain
        let vault: Vault
        let policy: Policy

        func pass(collector: Collector) {
            do {
                let report = try drain.drain()
                guard report.requests > 0 else { return }
                collector.recordDrain(requests: report.requests, ingested: report.ingest.accepted, quarantined: report.ingest.quarantined)
                Terminal.note("inbox: \(report.requests) request(s), \(report.ingest.accepted) event(s) accepted"
                    + (report.ingest.quarantined > 0 ? ", \(report.ingest.quarantined) quarantined" : ""))
                try ConsentCommand.takeEffect(report.ingest.withdrawals, vault: vault, policy: policy)
            } catch {
                Terminal.error("inbox drain: \((error as? any CofferError)?.message ?? "\(error)")")
            }
        }
    }

    /// Runs `pass` every half second on a thread of its own; `stop` runs a last one and waits for it.
    private final class DrainThread: Sendable {
        private let stopping = Atomic(false)
        private let finished = DispatchSemaphore(value: 0)

        init(pass: @escaping @Sendable () -> Void) {
            let thread = Thread { [self] in
                while !stopping.load(ordering: .acquiring) {
                    pass()
                    Thread.sleep(forTimeInterval: 0.5)
                }
                pass()
                finished.signal()
            }
            thread.name = "coffer-inbox-drain"
            thread.start()
        }

        func stop() {
            stopping.store(true, ordering: .releasing)
            finished.wait()
        }
    }

}
