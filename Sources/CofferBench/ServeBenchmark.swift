import CofferCollector
import CofferCrypto
import CofferFormats
package import CofferIngest
package import CofferPolicy
import CofferStore
package import Foundation
import Logging
import Synchronization

/// `coffer bench serve`: concurrent loopback clients post batches to a
/// collector in this process; then the inbox is drained into the vault, and
/// the same events are ingested from a file into a second vault beside it.
package struct ServeBenchmark {
    package struct Configuration: Sendable {
        /// Events posted in all.
        package var events = 200_000
        /// Events per request (`{"batch":[…]}`).
        package var batchSize = 100
        /// Concurrent clients, each with one keep-alive connection and one request at a time.
        package var clients = 8
        /// Distinct users the events belong to.
        package var users = 20_000

        package init() {}
    }

    package struct Result: Sendable {
        package var requests: Int
        /// Events in requests answered 200.
        package var acknowledgedEvents: Int
        /// Answers other than 200, by status.
        package var refusals: [Int: Int]
        package var serveSeconds: Double
        package var acknowledgedPerSecond: Double { Double(acknowledgedEvents) / serveSeconds }
        /// Request latency (from the first byte sent to the last byte of the answer), in ms.
        package var p50: Double
        package var p99: Double
        package var max: Double
        /// Peak RSS while serving (server and clients), and the RSS before.
        package var rssBefore: UInt64
        package var peakServeRSS: UInt64
        /// CPU this process used while serving, in seconds.
        package var serveCPUSeconds: Double
        package var drain: InboxDrain.Report
        package var drainSeconds: Double
        package var drainPerSecond: Double { Double(drain.ingest.records) / drainSeconds }
        /// The same events ingested from a JSONL file, in this run.
        package var file: IngestReport
        package var fileSeconds: Double
        package var filePerSecond: Double { Double(file.records) / fileSeconds }
    }

    package let configuration: Configuration

    package init(configuration: Configuration) { self.configuration = configuration }

    /// Runs the three phases in `directory` (made and left for the caller to remove).
    package func run(directory: URL, policy: Policy?, note: (String) -> Void) throws -> Result {
        let layout = VaultLayout(directory: directory.appendingPathComponent("served"))
        let vault = try Vault.create(layout: layout, ownerPassphrase: SecureBytes.random(count: 32))
        let key = try vault.addSource("bench", kind: .server, origins: [], at: EventLog.now())
        var settings = Collector.Configuration()
        settings.port = 0
        settings.requestsPerSecond = 1e9
        settings.maxConnections = max(256, configuration.clients * 2)
        var quiet = Logger(label: "coffer.bench.serve")
        quiet.logLevel = .warning
        let server = try RunningCollector(Collector(layout: layout, configuration: settings, logger: quiet))

        note("serving on 127.0.0.1:\(server.port); \(configuration.clients) clients post \(configuration.events) events in batches of \(configuration.batchSize)…")
        let authorization = "Content-Type: application/json\r\nAuthorization: Basic " + Data("\(key):".utf8).base64EncodedString() + "\r\n"
        let load = try post(port: server.port, headers: authorization)
        server.stop()

        note("draining the inbox into the vault…")
        let ingestor = try Ingestor(vault: vault, policy: policy)
        let clock = Stopwatch()
        let drain = try InboxDrain(vault: vault, ingestor: ingestor).drain()
        let drainSeconds = clock.elapsed

        note("ingesting the same events from a file, for reference…")
        var reference = IngestBenchmark.Configuration()
        reference.events = configuration.events
        reference.users = configuration.users
        let input = directory.appendingPathComponent("events.jsonl")
        let fileBenchmark = IngestBenchmark(configuration: reference)
        try fileBenchmark.writeInput(to: input)
        let fileVault = try Vault.create(layout: VaultLayout(directory: directory.appendingPathComponent("from-file")),
                                         ownerPassphrase: SecureBytes.random(count: 32))
        let file = try fileBenchmark.run(vault: fileVault, input: input, policy: policy)

        let sorted = load.latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return Result(requests: load.latencies.count, acknowledgedEvents: load.acknowledged, refusals: load.refusals,
                      serveSeconds: load.seconds, p50: percentile(0.50), p99: percentile(0.99), max: sorted.last ?? 0,
                      rssBefore: load.rssBefore, peakServeRSS: load.peakRSS, serveCPUSeconds: load.cpuSeconds,
                      drain: drain, drainSeconds: drainSeconds, file: file.report, fileSeconds: file.seconds)
    }

    /// What the clients measured.
    struct Load {
        var latencies: [Double] = []
        var acknowledged = 0
        var refusals: [Int: Int] = [:]
        var seconds = 0.0
        var rssBefore: UInt64 = 0
        var peakRSS: UInt64 = 0
        var cpuSeconds = 0.0
    }

    /// Posts every request from `clients` threads and gathers what they measured.
    private func post(port: Int, headers: String) throws -> Load {
        let requests = (configuration.events + configuration.batchSize - 1) / configuration.batchSize
        let next = Atomic(0)
        let gathered = Mutex(Load())
        let failures = Mutex([String]())
        let group = DispatchGroup()
        var load = Load()
        load.rssBefore = ResourceUsage.residentBytes()
        ResourceUsage.resetPeak()
        let cpu = ResourceUsage.cpuSeconds()
        let clock = Stopwatch()
        for _ in 0..<configuration.clients {
            group.enter()
            Thread { [configuration] in
                defer { group.leave() }
                var mine = Load()
                do {
                    let client = try LoopbackClient(port: port)
                    while true {
                        let request = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard request < requests else { break }
                        let first = request * configuration.batchSize
                        let count = Swift.min(configuration.batchSize, configuration.events - first)
                        let body = Self.body(events: first..<(first + count), users: configuration.users)
                        let sent = Stopwatch()
                        let status = try client.post("/v1/batch", headers: headers, body: body)
                        mine.latencies.append(sent.elapsed * 1000)
                        if status == 200 { mine.acknowledged += count } else { mine.refusals[status, default: 0] += 1 }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                gathered.withLock { total in
                    total.latencies += mine.latencies
                    total.acknowledged += mine.acknowledged
                    total.refusals.merge(mine.refusals, uniquingKeysWith: +)
                }
            }.start()
        }
        group.wait()
        load.seconds = clock.elapsed
        load.cpuSeconds = ResourceUsage.cpuSeconds() - cpu
        load.peakRSS = ResourceUsage.peakResidentBytes()
        if let failure = failures.withLock({ $0.first }) { throw VaultError.io(path: "127.0.0.1:\(port)", detail: "a client failed: \(failure)") }
        let measured = gathered.withLock { $0 }
        load.latencies = measured.latencies
        load.acknowledged = measured.acknowledged
        load.refusals = measured.refusals
        return load
    }

    /// A batch request of the bench's events `range` (the events `bench ingest` writes).
    static func body(events range: Range<Int>, users: Int) -> [UInt8] {
        var body = Array(#"{"batch":["#.utf8)
        body.reserveCapacity(range.count * 450 + 64)
        for i in range {
            if i != range.lowerBound { body.append(UInt8(ascii: ",")) }
            body += IngestBenchmark.event(i, users: users).utf8
        }
        body += #"],"sentAt":"\#(Timestamp.format(EventLog.now()))"}"#.utf8
        return body
    }
}

/// A collector serving on a free loopback port, on a task of its own, until `stop`.
final class RunningCollector: Sendable {
    let collector: Collector
    let port: Int
    private let task: Task<Void, any Error>

    init(_ collector: Collector) throws {
        self.collector = collector
        let bound = Mutex(0)
        let ready = DispatchSemaphore(value: 0)
        task = Task { try await collector.serve { port in bound.withLock { $0 = port }; ready.signal() } }
        if ready.wait(timeout: .now() + 30) == .timedOut {
            task.cancel()
            throw VaultError.io(path: "127.0.0.1", detail: "the collector did not start listening within 30 s")
        }
        port = bound.withLock { $0 }
    }

    /// Stops listening, answers what is in flight, and commits what was accepted.
    func stop() {
        task.cancel()
        let done = DispatchSemaphore(value: 0)
        Task { [task] in _ = await task.result; done.signal() }
        done.wait()
        collector.finish()
    }
}
