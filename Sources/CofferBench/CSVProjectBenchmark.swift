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
        /// Resident when the full build started (the ingest's freed pages returned first), and at most during it.
        package var rssBeforeBuild: UInt64
        package var peakBuildRSS: UInt64
        /// The same log opened only, on the build's threads: the floor under the full build's read.
        package var openFloor: LogOpenFloor.Result
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

    /// Creates the vault and ingests `file` into it: the vault and its caches are dropped on return.
    private func ingest(_ file: URL, into layout: VaultLayout, passphrase: SecureBytes, policy: Policy) throws -> Double {
        let vault = try Vault.create(layout: layout, ownerPassphrase: passphrase, kdf: ProjectBenchmark.benchKDF)
        let clock = Stopwatch()
        _ = try Ingestor(vault: vault, policy: policy).ingest(path: file.path, mapping: mapping)
        return clock.elapsed
    }

    package func run(in directory: URL, policy: Policy, segments: [SegmentDefinition], progress: (String) -> Void = { _ in }) throws -> Result {
        // The file split in two: all but the last rows, then those (each with the header). Done in
        // a function of its own, so that the text is freed before the ingest and the builds measured.
        let first = directory.appendingPathComponent("first.csv"), last = directory.appendingPathComponent("last.csv")
        let (rows, held) = try split(into: first, last)

        let layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        let passphrase = SecureBytes(Array("bench csv owner passphrase".utf8))
        progress("ingesting \(rows - held) rows")
        // Each phase on the allocator settings its command runs with: `coffer ingest` and `coffer
        // project build` return freed pages after a second. The build's memory is measured from the
        // pages the vault holds when it starts, not from those the ingest left behind.
        Jemalloc.returnFreedPages(afterMilliseconds: 1_000)
        let ingestSeconds = try ingest(first, into: layout, passphrase: passphrase, policy: policy)
        // The build opens the vault anew, as `coffer project build` does in a process of its own:
        // the ingest's caches (identity tokens, subject keys, its SQLite pages) are gone with its vault.
        let vault = try Vault.unlock(layout: layout, passphrase: passphrase)

        progress("full build")
        Jemalloc.purge()
        let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: segments)
        builder.incremental = false
        let before = ResourceUsage.residentBytes()
        ResourceUsage.resetPeak()
        let fullClock = Stopwatch()
        let full = try builder.build()
        let fullSeconds = fullClock.elapsed
        let peak = ResourceUsage.peakResidentBytes()
        progress("timing the log opened only (decrypted and authenticated, nothing folded)")
        let floor = try LogOpenFloor.measure(vault)

        progress("ingesting the last \(held) rows, incremental build")
        _ = try Ingestor(vault: vault, policy: policy).ingest(path: last.path, mapping: mapping)
        builder.incremental = true
        let incrementalClock = Stopwatch()
        let incremental = try builder.build()
        return Result(rows: rows, people: full.people, ingestSeconds: ingestSeconds, fullSeconds: fullSeconds, fullTimings: full.timings,
                      rssBeforeBuild: before, peakBuildRSS: peak, openFloor: floor, heldBack: held, incrementalSeconds: incrementalClock.elapsed,
                      incrementalTimings: incremental.timings, incrementalReadEvents: incremental.events)
    }

    /// Writes all but the last `heldBack` rows to `first`, those to `last`; returns the rows and how many were held back.
    private func split(into first: URL, _ last: URL) throws -> (rows: Int, held: Int) {
        guard let text = try? String(contentsOf: csv, encoding: .utf8) else {
            throw VaultError.io(path: csv.path, detail: "cannot read the CSV")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count > 1 else { throw VaultError.io(path: csv.path, detail: "the CSV has no rows") }
        let header = lines.removeFirst()
        let held = min(heldBack, lines.count / 2)
        try ([header] + lines.dropLast(held)).joined(separator: "\n").appending("\n").write(to: first, atomically: false, encoding: .utf8)
        try ([header] + lines.suffix(held)).joined(separator: "\n").appending("\n").write(to: last, atomically: false, encoding: .utf8)
        return (lines.count, held)
    }
}
