import CofferCrypto
package import CofferIngest
package import CofferPolicy
package import CofferProjection
import CofferStore
package import Foundation

/// `coffer bench project --csv FILE --mapping FILE`: a real till export (the
/// seed's table 1) ingested into a throw-away vault, then a full build timed,
/// then the last rows ingested and an incremental build timed.
package struct CSVProjectBenchmark {
    package struct Result: Sendable {
        package var rows: Int
        package var people: Int
        package var ingestSeconds: Double
        package var fullSeconds: Double
        package var fullTimings: BuildTimings
        package var peakBuildRSS: UInt64
        package var heldBack: Int
        package var incrementalSeconds: Double
        package var incrementalTimings: BuildTimings
        package var incrementalReadEvents: Int
    }

    let csv: URL
    let mapping: CSVMapping
    /// Rows kept for the incremental build (from the end of the file).
    let heldBack: Int

    package init(csv: URL, mapping: CSVMapping, heldBack: Int = 10_000) {
        self.csv = csv
        self.mapping = mapping
        self.heldBack = heldBack
    }

    package func run(in directory: URL, policy: Policy, segments: [SegmentDefinition], progress: (String) -> Void = { _ in }) throws -> Result {
        // The file split in two: all but the last rows, then those (each with the header).
        guard let text = try? String(contentsOf: csv, encoding: .utf8) else {
            throw VaultError.io(path: csv.path, detail: "cannot read the CSV")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count > 1 else { throw VaultError.io(path: csv.path, detail: "the CSV has no rows") }
        let header = lines.removeFirst()
        let held = min(heldBack, lines.count / 2)
        let first = directory.appendingPathComponent("first.csv"), last = directory.appendingPathComponent("last.csv")
        try ([header] + lines.dropLast(held)).joined(separator: "\n").appending("\n").write(to: first, atomically: false, encoding: .utf8)
        try ([header] + lines.suffix(held)).joined(separator: "\n").appending("\n").write(to: last, atomically: false, encoding: .utf8)
        let rows = lines.count
        lines = []

        let layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        let vault = try Vault.create(layout: layout, ownerPassphrase: SecureBytes(Array("bench csv owner passphrase".utf8)),
                                     kdf: ProjectBenchmark.benchKDF)
        progress("ingesting \(rows - held) rows")
        let ingestor = try Ingestor(vault: vault, policy: policy)
        let ingestClock = Stopwatch()
        _ = try ingestor.ingest(path: first.path, mapping: mapping)
        let ingestSeconds = ingestClock.elapsed

        progress("full build")
        let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: segments)
        builder.incremental = false
        ResourceUsage.resetPeak()
        let fullClock = Stopwatch()
        let full = try builder.build()
        let fullSeconds = fullClock.elapsed
        let peak = ResourceUsage.peakResidentBytes()

        progress("ingesting the last \(held) rows, incremental build")
        _ = try ingestor.ingest(path: last.path, mapping: mapping)
        builder.incremental = true
        let incrementalClock = Stopwatch()
        let incremental = try builder.build()
        return Result(rows: rows, people: full.people, ingestSeconds: ingestSeconds, fullSeconds: fullSeconds, fullTimings: full.timings,
                      peakBuildRSS: peak, heldBack: held, incrementalSeconds: incrementalClock.elapsed,
                      incrementalTimings: incremental.timings, incrementalReadEvents: incremental.events)
    }
}
