import ArgumentParser
import CofferCollector
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import Logging

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

    func validate() throws {
        guard let colon = listen.lastIndex(of: ":"), !listen[..<colon].isEmpty, let port = Int(listen[listen.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 127.0.0.1:8080")
        }
        guard rateLimit > 0 else { throw ValidationError("--rate-limit must be positive") }
    }

    func run() throws {
        let colon = listen.lastIndex(of: ":")!
        var configuration = Collector.Configuration()
        configuration.host = String(listen[..<colon])
        configuration.port = Int(listen[listen.index(after: colon)...])!
        configuration.requestsPerSecond = rateLimit
        var logger = Logger(label: "coffer.serve")
        logger.logLevel = .info
        let drainer = try drain ? drainLoop() : nil
        let collector = try Collector(layout: options.layout, configuration: configuration, logger: logger)
        let host = configuration.host
        let done = DispatchSemaphore(value: 0)
        let failure = Failure()
        Task {
            do {
                try await collector.run { port in Terminal.note("coffer serve: listening on \(host):\(port)") }
            } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        drainer?.cancel()
        if let error = failure.error { throw error }
    }

    /// Drains the inbox every half second on its own thread, with this process's unlocked vault.
    private func drainLoop() throws -> Thread {
        let vault = try options.unlock()
        let policy = try options.policy()
        let ingestor = try Ingestor(vault: vault, policy: policy)
        let job = DrainJob(drain: try InboxDrain(vault: vault, ingestor: ingestor), vault: vault, policy: policy)
        let thread = Thread {
            let (drain, vault, policy) = (job.drain, job.vault, job.policy)
            while !Thread.current.isCancelled {
                do {
                    let report = try drain.drain()
                    if report.requests > 0 { Terminal.note("inbox: \(report.requests) request(s), \(report.ingest.accepted) event(s) accepted") }
                    try ConsentCommand.takeEffect(report.ingest.withdrawals, vault: vault, policy: policy)
                } catch {
                    Terminal.error("inbox drain: \((error as? any CofferError)?.message ?? "\(error)")")
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.start()
        return thread
    }

    private final class Failure: @unchecked Sendable { var error: (any Error)? }

    /// What the drain thread works with; only that thread uses it after the start.
    private struct DrainJob: @unchecked Sendable {
        let drain: InboxDrain
        let vault: Vault
        let policy: Policy
    }
}
