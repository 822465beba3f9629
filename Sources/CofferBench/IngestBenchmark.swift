import CofferCrypto
import CofferFormats
package import CofferIngest
package import CofferPolicy
package import CofferStore
package import Foundation

/// `coffer bench ingest`: Segment events end to end — read, parse, validate,
/// normalise, tokenise identifiers, dedup, encrypt, chain, append — from a file.
package struct IngestBenchmark {
    package struct Configuration: Sendable {
        /// Events in the generated input file.
        package var events = 1_000_000
        /// Distinct users the events belong to.
        package var users = 100_000
        /// Records per transaction.
        package var batchSize = Ingestor.defaultBatchSize
        /// The curve's step: the rate is reported for each of these many events (a million; a tenth
        /// of the input when that is smaller, so that a short run shows a curve too).
        package var curveStep: Int { max(1, min(1_000_000, events / 10)) }

        package init() {}
    }

    package struct Result: Sendable {
        package var report: IngestReport
        package var inputBytes: Int
        package var seconds: Double
        package var eventsPerSecond: Double { Double(report.records) / seconds }
        /// Highest resident memory sampled between batches.
        package var peakIngestRSS: UInt64
        /// RSS when ingest started (after the vault was opened).
        package var startRSS: UInt64
        /// Peak RSS sampled during the first 10 % of the input: compare with
        /// `peakIngestRSS` to see whether memory grows with the input.
        package var earlyPeakRSS: UInt64
        /// The rate over each `curveStep` of records, in order: does the cost per event grow with the vault?
        package var curve: [CurvePoint]
    }

    /// Ingest over one step of the input.
    package struct CurvePoint: Sendable {
        /// Records ingested before the step, and at its end.
        package var from: Int
        package var to: Int
        package var eventsPerSecond: Double
        /// Resident memory at the step's end.
        package var rss: UInt64
        /// Of which SQLite's own heap (page caches, statements).
        package var sqliteHeap: Int64 = 0
        /// Of which live allocations (jemalloc's count; nil off jemalloc).
        package var allocated: Int? = nil
    }

    package let configuration: Configuration

    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Writes the input file: realistic Segment events of ~400 bytes, 10 % identify calls with email and phone.
    package func writeInput(to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = try? FileHandle(forWritingTo: url) else {
            throw VaultError.io(path: url.path, detail: "cannot create the benchmark input")
        }
        defer { try? handle.close() }
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        for i in 0..<configuration.events {
            buffer += Self.event(i, users: configuration.users) + "\n"
            if buffer.utf8.count >= 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(buffer.utf8))
    }

    /// Event number `i` of the input, one JSON object of ~400 bytes: every tenth an
    /// identify call with email and phone, the others track calls (`bench serve` posts the same).
    /// Events come in time order, one every 3 seconds from 2025-11-01 (10M events span 347 days),
    /// as a live stream or a sorted export delivers them.
    package static func event(_ i: Int, users: Int) -> String {
        let names = ["Product Viewed", "Order Completed", "Cart Updated", "Email Opened", "Coupon Applied"]
        let user = (i &* 7919) % users
        let time = Timestamp.format(1_761_955_200_000 + Int64(i) * 3_000)
        if i % 10 == 0 {
            return #"{"type":"identify","messageId":"bench-\#(i)","userId":"user-\#(user)","timestamp":"\#(time)","#
                + #""traits":{"email":"Customer.\#(user)@Example.com","phone":"+44 7700 \#(100_000 + user)","firstName":"Alex","#
                + #""lastName":"Morgan","age":\#(18 + user % 60),"gender":"female","birthday":"1990-05-17"},"#
                + #""context":{"ip":"203.0.113.\#(i % 250)","library":{"name":"analytics.js","version":"4.1.0"},"#
                + #""userAgent":"Mozilla/5.0 (X11; Linux x86_64)"}}"#
        }
        return #"{"type":"track","messageId":"bench-\#(i)","userId":"user-\#(user)","anonymousId":"anon-\#(user)","#
            + #""event":"\#(names[i % names.count])","timestamp":"\#(time)","#
            + #""properties":{"sku":"SKU-\#(i % 997)","price":\#(i % 50).5,"quantity":\#(1 + i % 3),"currency":"EUR","#
            + #""category":"coffee"},"context":{"ip":"203.0.113.\#(i % 250)","page":{"path":"/menu","referrer":"https://search.example/"},"#
            + #""userAgent":"Mozilla/5.0 (X11; Linux x86_64)"}}"#
    }

    /// Ingests `input` into `vault` under `policy` (as `coffer ingest` does), sampling memory after every batch.
    /// `step` is called as each step of the curve completes.
    package func run(vault: Vault, input: URL, policy: Policy?, progress: (IngestProgress) -> Void = { _ in },
                     step: (CurvePoint) -> Void = { _ in }) throws -> Result {
        let ingestor = try Ingestor(vault: vault, policy: policy)
        ingestor.batchSize = configuration.batchSize
        let start = ResourceUsage.residentBytes()
        var peak = start, early = start
        let clock = Stopwatch()
        var curve: [CurvePoint] = []
        var stepStart = (records: 0, seconds: 0.0)
        let size = configuration.curveStep
        let report = try ingestor.ingest(path: input.path, format: .jsonl) { update in
            let rss = ResourceUsage.residentBytes()
            peak = max(peak, rss)
            if update.totalBytes > 0 && update.bytesRead * 10 <= update.totalBytes { early = max(early, rss) }
            let records = update.report.records
            if records - stepStart.records >= size || (records == configuration.events && records > stepStart.records) {
                let now = clock.elapsed
                let point = CurvePoint(from: stepStart.records, to: records,
                                       eventsPerSecond: Double(records - stepStart.records) / max(now - stepStart.seconds, 1e-9), rss: rss,
                                       sqliteHeap: sqliteHeapBytes(), allocated: Jemalloc.allocatedBytes())
                curve.append(point)
                step(point)
                stepStart = (records, now)
            }
            progress(update)
        }
        return Result(report: report, inputBytes: report.bytes, seconds: clock.elapsed, peakIngestRSS: peak,
                      startRSS: start, earlyPeakRSS: early, curve: curve)
    }
}
