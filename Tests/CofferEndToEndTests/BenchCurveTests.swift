import CofferBench
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import CofferTestSupport
import Foundation
import Testing

/// Issue 22, item 4: the benchmarks that show the curve.
struct BenchCurveTests {
    @Test("bench ingest reports one rate per step, the steps covering every record in order")
    func ingestCurve() throws {
        let scratch = try ScratchVault("bench-curve")
        let vault = try scratch.create()
        var configuration = IngestBenchmark.Configuration()
        configuration.events = 3000
        configuration.users = 300
        configuration.batchSize = 250
        let input = scratch.directory.appendingPathComponent("events.jsonl")
        let benchmark = IngestBenchmark(configuration: configuration)
        try benchmark.writeInput(to: input)
        var seen: [IngestBenchmark.CurvePoint] = []
        let result = try benchmark.run(vault: vault, input: input, policy: nil, step: { seen.append($0) })
        #expect(configuration.curveStep == 300)
        #expect(result.curve.count == seen.count && result.curve.count >= 5)
        #expect(result.curve.first?.from == 0 && result.curve.last?.to == 3000)
        for (a, b) in zip(result.curve, result.curve.dropFirst()) { #expect(a.to == b.from && (b.to - b.from >= 300 || b.to == 3000)) }
        #expect(result.curve.allSatisfy { $0.eventsPerSecond > 0 && $0.rss > 0 })
    }

    @Test("the coffer binary allocates with jemalloc; an ingest gives freed pages back after a second (glibc let its heap grow, and so did pages kept)")
    func binaryUsesJemalloc() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        let run = try coffer.run(["bench", "ingest", "--events", "2000", "--users", "50", "--batch", "500"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("allocator:         jemalloc, freed pages returned after 1000 ms"), "\(run.stdout)")
    }

    @Test("bench project --csv ingests all but the last rows, builds, then builds incrementally from exactly those rows")
    func csvProject() throws {
        let scratch = try ScratchVault("bench-csv")
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        var lines = ["customer_id,customer_age,customer_gender,time_shop,cart_id,cart_size,spending"]
        for n in 0..<400 {
            lines.append("C\(n % 40),\(20 + n % 40),\(n % 2 == 0 ? "F" : "M"),2025-0\(1 + n % 9)-1\(n % 10) 09:\(10 + n % 50):00,K\(n),\(["S", "M", "L"][n % 3]),\(4 + n % 7).5")
        }
        let csv = try scratch.file("table1.csv", lines.joined(separator: "\n") + "\n")
        let mapping = try CSVMapping.load(path: ScratchVault.repository.appendingPathComponent("examples/seed-table1-mapping.yaml").path)
        let segments = try SegmentCatalog.parse("segments:\n  buyers:\n    rule: shop_times >= 1\n", file: "s.yaml",
                                                fields: SegmentCatalog.fields(for: policy))
        let result = try CSVProjectBenchmark(csv: csv, mapping: mapping).run(in: scratch.directory, policy: policy, segments: segments)
        #expect(result.rows == 400 && result.heldBack == 200 && result.people == 40)
        #expect(result.incrementalReadEvents == 200, "the incremental build reads only the rows held back")
        #expect(result.fullSeconds > 0 && result.incrementalSeconds > 0)
    }
}
