import CofferCrypto
import CofferFormats
package import CofferPolicy
package import CofferProjection
package import CofferPublish
import CofferRequests
import GRDB
package import CofferStore
package import Foundation

/// `coffer bench publish`: a purpose's projection of N people published to
/// two ClickHouse shards (started on loopback unless given), then an
/// incremental publish after more events, then the time from an erasure to
/// its verified invisibility on every shard; beside them, in the same run,
/// ClickHouse taking plain rows through the same HTTP client (the reference).
package struct PublishBenchmark {
    package struct Configuration: Sendable {
        package var subjects = 100_000
        package var events = 1_000_000
        /// Events added before the incremental publish.
        package var added = 10_000
        /// The purpose published (analytics rests on legitimate interests: everyone is in it).
        package var purpose = "analytics"
        package var role = Role.analyst
        /// Plain purchase-shaped rows the reference inserts.
        package var referenceRows = 2_000_000
        package init() {}
    }

    package struct Result: Sendable {
        package var shards: Int
        package var setupSeconds: Double
        package var full: PublishManifest
        package var fullSeconds: Double
        package var fullTimings: [String: Double]
        package var fullPeakRSS: UInt64
        /// RSS when the full publish started (the build's pages, which jemalloc keeps for reuse, included).
        package var rssBefore: UInt64
        package var incrementalTimings: [String: Double]
        package var addedEvents: Int
        package var incrementalBuildSeconds: Double
        package var incremental: PublishManifest
        package var incrementalSeconds: Double
        /// The incremental publish again, with builds that leave the analysis columns out.
        package var steady: PublishManifest
        package var steadySeconds: Double
        package var steadyTimings: [String: Double]
        /// The whole erasure (with its no-trace check and receipt), and when every shard showed the person gone.
        package var eraseSeconds: Double
        package var invisibleAfter: Double
        package var syncSeconds: Double
        package var remoteStatus: String
        package var referenceRows: Int
        package var referenceSeconds: Double
        package var peakRSS: UInt64
    }

    let configuration: Configuration
    package init(configuration: Configuration) { self.configuration = configuration }

    static let email = "published.customer@example.com"

    /// - Parameter shards: ClickHouse HTTP URLs (first, then the others, in the cluster `coffer`'s order); nil starts two locally.
    package func run(directory: URL, policy: Policy, segments: [SegmentDefinition], shards given: [String]?,
                     credentials: ClickHouseCredentials, progress: (String) -> Void = { _ in }) throws -> Result {
        var local: LocalClickHouse?
        if given == nil {
            progress("starting two ClickHouse servers on loopback")
            local = try LocalClickHouse(count: 2)
        }
        let urls = given ?? local!.urls
        let credentials = local == nil ? credentials : LocalClickHouse.credentials
        let target = try PublishTarget(to: urls[0], shards: Array(urls.dropFirst()), database: "coffer_bench",
                                       cluster: urls.count > 1 ? "coffer" : nil, credentials: credentials)

        let setup = Stopwatch()
        var population = ProjectBenchmark.Configuration()
        population.subjects = configuration.subjects
        population.events = configuration.events
        let (_, owner, subjects) = try ProjectBenchmark(configuration: population)
            .populatedVault(in: directory, passphrase: "bench publish owner passphrase", policy: policy, progress: progress)
        // One person found by email, for the erasure.
        let graph = try owner.identityGraph(), log = try owner.eventLog()
        try owner.database.write { db in
            let subject = try graph.resolve([Identifier(type: .email, raw: Self.email)!], at: EventLog.now(), in: db).subject
            let identify = #"{"timestamp":"2026-01-02T10:00:00Z","traits":{"email":"\#(Self.email)"},"type":"identify","userId":"published-1"}"#
            _ = try log.append([NewEvent(subject: subject, kind: .identify, payload: Array(identify.utf8))]
                + (1..<20).map { i in NewEvent(subject: subject, kind: .track, payload: ProjectBenchmark.payload(i * 10 + 1, user: 1).1) }, in: db)
        }
        let dpo = try ProjectBenchmark.buildProjections(of: owner, policy: policy, segments: segments, thenUnlock: "bench-dpo",
                                                        role: .compliance, passphrase: SecureBytes(Array("bench publish dpo passphrase".utf8)),
                                                        progress: progress)
        let setupSeconds = setup.elapsed
        ResourceUsage.resetPeak()
        let rssBefore = ResourceUsage.residentBytes()

        progress("publishing \(configuration.purpose) in full")
        let publisher = Publisher(vault: owner, policy: policy)
        let fullClock = Stopwatch()
        let full = try publisher.publish(purpose: configuration.purpose, role: configuration.role, to: target)
        let fullSeconds = fullClock.elapsed
        let fullPeak = ResourceUsage.peakResidentBytes()

        progress("adding \(configuration.added) events, building, publishing again")
        /// `added` more café events of the same people, from event number `offset` on.
        func events(from offset: Int) -> [NewEvent] {
            (offset..<(offset + configuration.added)).map { n in
                let user = (n &* 7919) % subjects.count
                let (kind, payload) = ProjectBenchmark.payload(n, user: user)
                return NewEvent(subject: subjects[user], kind: kind, payload: payload, occurredAt: ProjectBenchmark.time(n))
            }
        }
        _ = try log.append(events(from: configuration.events))
        let buildClock = Stopwatch()
        _ = try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(purposes: [configuration.purpose])
        let incrementalBuildSeconds = buildClock.elapsed
        let incrementalClock = Stopwatch()
        let incremental = try publisher.publish(purpose: configuration.purpose, role: configuration.role, to: target)
        let incrementalSeconds = incrementalClock.elapsed

        // The same again with the analysis columns off (a build whose refit moves nobody's scores): what the publish
        // itself costs when only the people the new events touched change.
        progress("again without the analysis columns: a build, a publish, \(configuration.added) more events, a build, a publish")
        func build(adding offset: Int) throws {
            if offset > 0 { _ = try log.append(events(from: offset)) }
            let builder = try ProjectionBuilder(vault: owner, policy: policy, segments: segments)
            builder.analyse = false
            _ = try builder.build(purposes: [configuration.purpose])
        }
        try build(adding: 0)
        _ = try publisher.publish(purpose: configuration.purpose, role: configuration.role, to: target)
        try build(adding: configuration.events + configuration.added)
        let steadyClock = Stopwatch()
        let steady = try publisher.publish(purpose: configuration.purpose, role: configuration.role, to: target)
        let steadySeconds = steadyClock.elapsed

        progress("erasing one person (its remote deletes sent before the receipt, as `request erase` does)")
        let desk = RequestDesk(vault: dpo, policy: policy, segments: segments)
        let eraseClock = Stopwatch()
        var invisibleAfter = 0.0, syncSeconds = 0.0
        desk.syncRemoteCopies = {
            let syncClock = Stopwatch()
            _ = try DeleteSync(vault: dpo, credentials: credentials).run()
            syncSeconds = syncClock.elapsed
            invisibleAfter = eraseClock.elapsed
        }
        let receipt = try desk.erase(subject: Identifier(type: .email, raw: Self.email)!)
        let eraseSeconds = eraseClock.elapsed
        let states = try RemoteCopyState.of(request: receipt.receipt.request, vault: owner)
        let status = states.isEmpty ? "the person was in no copy" : states.map(\.status).joined(separator: ", ")

        progress("reference: \(configuration.referenceRows) plain rows through the same client")
        let referenceSeconds = try reference(urls: urls, credentials: credentials)
        return Result(shards: urls.count, setupSeconds: setupSeconds, full: full.manifest, fullSeconds: fullSeconds, fullTimings: full.timings,
                      fullPeakRSS: fullPeak, rssBefore: rssBefore, incrementalTimings: incremental.timings,
                      addedEvents: configuration.added, incrementalBuildSeconds: incrementalBuildSeconds, incremental: incremental.manifest,
                      incrementalSeconds: incrementalSeconds, steady: steady.manifest, steadySeconds: steadySeconds,
                      steadyTimings: steady.timings, eraseSeconds: eraseSeconds, invisibleAfter: invisibleAfter,
                      syncSeconds: syncSeconds, remoteStatus: status,
                      referenceRows: configuration.referenceRows, referenceSeconds: referenceSeconds, peakRSS: ResourceUsage.peakResidentBytes())
    }

    /// Purchase-shaped rows (customer, day, amount, channel) into a MergeTree through the Distributed
    /// table, in RowBinary and the same chunks a publish sends: what ClickHouse and the HTTP path cost on their own.
    private func reference(urls: [String], credentials: ClickHouseCredentials) throws -> Double {
        let clients = try urls.map { ClickHouseClient(base: try ClickHouseClient.baseURL($0), credentials: credentials) }
        let sharded = clients.count > 1, settings = sharded ? ["insert_distributed_sync": "1"] : [:]
        for client in clients {
            try client.execute("DROP TABLE IF EXISTS coffer_bench.reference")
            try client.execute("DROP TABLE IF EXISTS coffer_bench.reference_local")
            try client.execute("CREATE TABLE coffer_bench.reference\(sharded ? "_local" : "") (customer_id String, day Date, amount Float64, "
                + "channel String) ENGINE = MergeTree() ORDER BY customer_id")
            if sharded {
                try client.execute("CREATE TABLE coffer_bench.reference AS coffer_bench.reference_local "
                    + "ENGINE = Distributed(coffer, coffer_bench, reference_local, cityHash64(customer_id))")
            }
        }
        let clock = Stopwatch()
        var chunk: [UInt8] = []
        let channels = ["online", "in-store"]
        let january2026 = CivilCalendar.daysFromCivil(year: 2026, month: 1, day: 1)
        func string(_ text: String) {
            chunk.append(UInt8(text.utf8.count))   // all shorter than 128 bytes: a one-byte length
            chunk += text.utf8
        }
        // RowBinary, as a publish sends: customer_id, day (days since 1970, 2 bytes), amount, channel.
        for row in 0..<configuration.referenceRows {
            string("c\((row &* 7919) % configuration.subjects)")
            withUnsafeBytes(of: UInt16(january2026 + row % 300).littleEndian) { chunk += $0 }
            withUnsafeBytes(of: (Double(row % 4000) / 100).bitPattern.littleEndian) { chunk += $0 }
            string(channels[row % 2])
            if (row + 1) % 25_000 == 0 {
                try clients[0].insert(into: "coffer_bench.reference", rows: chunk, settings: settings)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty {
            try clients[0].insert(into: "coffer_bench.reference", rows: chunk, settings: settings)
        }
        return clock.elapsed
    }
}
