import CofferCrypto
package import CofferStore
import Foundation
import CofferFormats

/// `coffer bench append`: how fast the log encrypts, chains and stores events.
package struct AppendBenchmark {
    /// What to run.
    package struct Configuration: Sendable {
        /// Events to append in total.
        package var events = 1_000_000
        /// Approximate plaintext payload size in bytes.
        package var payloadBytes = 400
        /// Distinct subjects the events are spread over.
        package var subjects = 100_000
        /// Events per append (one transaction and one signed checkpoint each).
        package var batchSize = 10_000
        /// Walk and verify the chain afterwards, and time it.
        package var verify = true

        package init() {}
    }

    /// What it measured.
    package struct Result: Sendable {
        package var events: Int
        package var seconds: Double
        package var eventsPerSecond: Double { Double(events) / seconds }
        /// Highest resident memory sampled between batches.
        package var peakAppendRSS: UInt64
        /// The process's high-water mark, including the scrypt unlock.
        package var processPeakRSS: UInt64
        package var databaseBytes: UInt64
        package var verifySeconds: Double?
    }

    package let configuration: Configuration

    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Appends to `vault`'s log in batches. `onBatch` is called after each
    /// committed batch with the last acknowledged seq (for progress and for
    /// crash tests: every seq reported has been committed durably).
    package func run(vault: Vault, onBatch: (AppendReceipt) -> Void = { _ in }) throws -> Result {
        let log = try vault.eventLog()
        let subjects = try (0..<max(1, configuration.subjects)).map { _ in try SubjectID.random() }
        let payloads = try Self.payloads(count: 1024, size: configuration.payloadBytes)
        let kinds: [EventKind] = [.track, .track, .page, .track, .identify, .screen]
        var peak = ResourceUsage.residentBytes()
        let clock = Stopwatch()
        var appended = 0
        var batch: [NewEvent] = []
        batch.reserveCapacity(configuration.batchSize)
        let baseTime: Int64 = 1_700_000_000_000
        while appended < configuration.events {
            batch.removeAll(keepingCapacity: true)
            let n = min(configuration.batchSize, configuration.events - appended)
            for i in appended..<(appended + n) {
                batch.append(NewEvent(subject: subjects[(i &* 7919) % subjects.count], kind: kinds[i % kinds.count],
                                      payload: payloads[i % payloads.count], recordedAt: baseTime + Int64(i)))
            }
            let receipt = try log.append(batch)
            appended += n
            peak = max(peak, ResourceUsage.residentBytes())
            onBatch(receipt)
        }
        let seconds = clock.elapsed
        var result = Result(events: appended, seconds: seconds, peakAppendRSS: peak,
                            processPeakRSS: ResourceUsage.peakResidentBytes(),
                            databaseBytes: vault.layout.databaseFiles.reduce(0) { total, url in
                                total + ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64) ?? 0)
                            })
        if configuration.verify {
            let verifyClock = Stopwatch()
            let report = try LogVerifier.verify(layout: vault.layout)
            guard report.isValid else {
                throw BenchmarkError.verificationFailed(report.failure?.description ?? "unknown")
            }
            result.verifySeconds = verifyClock.elapsed
        }
        return result
    }

    /// Realistic Segment-like JSON payloads padded to about `size` bytes.
    static func payloads(count: Int, size: Int) throws -> [[UInt8]] {
        let events = ["Product Viewed", "Order Completed", "Cart Updated", "Email Opened", "Page Viewed"]
        return try (0..<count).map { i in
            let id = try SecureRandom.bytes(8).hexString
            var text = #"{"type":"track","event":"\#(events[i % events.count])","messageId":"m-\#(id)","#
                + #""userId":"user-\#(i)","timestamp":"2026-11-\#(10 + i % 18)T10:\#(10 + i % 50):00Z","properties":{"sku":"SKU-\#(i % 97)","price":\#(i % 50).5,"#
                + #""currency":"EUR"},"context":{"ip":"203.0.113.\#(i % 250)","userAgent":"Mozilla/5.0","pad":""#
            let padding = max(0, size - text.utf8.count - 4)
            text += String(repeating: "x", count: padding) + #""}}"#
            return Array(text.utf8)
        }
    }
}

/// A benchmark that could not complete.
package enum BenchmarkError: CofferError {
    case verificationFailed(String)

    package var description: String {
        switch self {
        case let .verificationFailed(detail): return "the benchmark's log failed verification: \(detail)"
        }
    }
}
