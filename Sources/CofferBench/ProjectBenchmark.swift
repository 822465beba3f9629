import CofferCrypto
import CofferIngest
package import CofferPolicy
package import CofferProjection
package import CofferStore
import Foundation
import GRDB
import CofferFormats

/// `coffer bench project`: time and peak memory to build the single view,
/// segments and every projection from a log of N café events.
package struct ProjectBenchmark {
    package struct Configuration: Sendable {
        package var events = 1_000_000
        /// People the events belong to.
        package var subjects = 100_000
        /// Share of people who consent to marketing (and its email opt-in, where the policy has one).
        package var marketingShare = 0.6
        package init() {}
    }

    package struct Result: Sendable {
        package var events: Int
        package var people: Int
        package var appendSeconds: Double
        package var buildSeconds: Double
        /// The full build's phases.
        package var buildTimings: BuildTimings
        /// The same full build without the analysis (models, RFM, recommendations, pattern tables).
        package var withoutAnalysisSeconds: Double
        package var withoutAnalysisTimings: BuildTimings
        package var readSeconds: Double
        /// CPU seconds (all threads) spent reading.
        package var readCPUSeconds: Double
        package var projections: [ProjectionSummary]
        package var rssBeforeBuild: UInt64
        package var peakBuildRSS: UInt64
        /// Peak RSS while only reading the log into aggregates.
        package var peakReadRSS: UInt64
        /// A second build after 1 % more events: incremental from the first one's state.
        package var addedEvents: Int
        package var incrementalReadEvents: Int
        package var incrementalSeconds: Double
        package var incrementalTimings: BuildTimings
    }

    package let configuration: Configuration
    package init(configuration: Configuration) { self.configuration = configuration }

    /// Café events of every kind the single view reads, in Segment's shape.
    /// Event `i`'s own time (its payload's `timestamp`), as ingest passes it on: it picks the key epoch.
    static func time(_ i: Int) -> Int64 {
        let days = CivilCalendar.daysFromCivil(year: 2026, month: 1 + i % 10, day: 1 + i % 28)
        return Int64(days) * CivilCalendar.dayMillis + Int64(8 + i % 12) * 3_600_000 + 15 * 60_000
    }

    static func payload(_ i: Int, user: Int) -> (EventKind, [UInt8]) {
        let day = 1 + i % 28, hour = 8 + i % 12
        let time = "2026-\(String(format: "%02d", 1 + i % 10))-\(String(format: "%02d", day))T\(String(format: "%02d", hour)):15:00.000Z"
        let text: String
        let kind: EventKind
        switch i % 10 {
        case 0:
            kind = .identify
            text = #"{"context":{"channel":"web"},"messageId":"m\#(i)","timestamp":"\#(time)","traits":{"age":\#(18 + user % 60),"# +
                #""birthday":"19\#(40 + user % 60)-\#(String(format: "%02d", 1 + user % 12))-15","email":"customer.\#(user)@example.com","# +
                #""firstName":"Alex","gender":"female","lastName":"Morgan","loyaltyId":"L\#(user)","phone":"+447700\#(100000 + user)"},"# +
                #""type":"identify","userId":"user-\#(user)"}"#
        case 1, 2, 3:
            kind = .track
            text = #"{"context":{"channel":"\#(i % 2 == 0 ? "web" : "app")"},"event":"Order Completed","messageId":"m\#(i)","# +
                #""properties":{"cart_size":\#(1 + i % 4),"channel":"\#(i % 3 == 0 ? "in-store" : "online")","currency":"EUR","# +
                #""products":[\#(products(i, user: user))],"# +
                #""revenue":\#(Double(i % 4000) / 100)},"timestamp":"\#(time)","type":"track","userId":"user-\#(user)"}"#
        case 4, 5:
            kind = .page
            text = #"{"context":{"channel":"web"},"messageId":"m\#(i)","name":"Menu","properties":{"path":"/menu"},"# +
                #""timestamp":"\#(time)","type":"page","userId":"user-\#(user)"}"#
        case 6:
            kind = .screen
            text = #"{"context":{"channel":"app"},"messageId":"m\#(i)","name":"Home","timestamp":"\#(time)","type":"screen","userId":"user-\#(user)"}"#
        default:
            kind = .track
            let event = ["Email Delivered", "Email Opened", "Email Link Clicked"][i % 3]
            text = #"{"context":{"channel":"email"},"event":"\#(event)","messageId":"m\#(i)","properties":{"campaign":"autumn"},"# +
                #""timestamp":"\#(time)","type":"track","userId":"user-\#(user)"}"#
        }
        return (kind, Array(text.utf8))
    }

    static let menu = [("Flat White", "coffee", 3.4), ("Croissant", "pastries", 2.6), ("Oat Latte", "coffee", 3.8),
                       ("Banana Bread", "pastries", 3.1), ("Avocado Toast", "lunch", 7.9), ("Beans 250g", "beans", 9.5),
                       ("Tote Bag", "merchandise", 12.0), ("Espresso", "coffee", 2.2)]

    /// One to three lines of the café's menu, habits differing by person.
    static func products(_ i: Int, user: Int) -> String {
        (0..<(1 + i % 3)).map { line in
            let item = menu[(user + line * (1 + i % 5)) % menu.count]
            return #"{"category":"\#(item.1)","name":"\#(item.0)","price":\#(item.2),"product_id":"p\#((user + line * (1 + i % 5)) % menu.count)","quantity":1}"#
        }.joined(separator: ",")
    }

    /// Appends the events (and a marketing consent for 60 % of people, personalisation for 40 %) to `vault`, then builds every projection.
    package func run(vault: Vault, policy: Policy, segments: [SegmentDefinition], progress: (String) -> Void = { _ in }) throws -> Result {
        let (appendSeconds, subjects) = try populate(vault: vault, policy: policy, progress: progress)
        progress("building projections")

        let before = ResourceUsage.residentBytes()
        ResourceUsage.resetPeak()
        let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: segments)
        let readClock = Stopwatch(), readCPU = ResourceUsage.cpuSeconds()
        _ = try builder.aggregates()
        let readSeconds = readClock.elapsed, readCPUSeconds = ResourceUsage.cpuSeconds() - readCPU
        let readPeak = ResourceUsage.peakResidentBytes()
        // The same full build without the analysis first: what the analysis adds is measured in this run.
        builder.incremental = false
        builder.analyse = false
        let plainClock = Stopwatch()
        let plain = try builder.build()
        let plainSeconds = plainClock.elapsed
        builder.analyse = true
        ResourceUsage.resetPeak()
        let clock = Stopwatch()
        let report = try builder.build()
        let buildSeconds = clock.elapsed
        builder.incremental = true
        let peak = ResourceUsage.peakResidentBytes()

        // 1 % more events of the same people, then an incremental build.
        let added = max(configuration.events / 100, 1)
        progress("appending \(added) more events for an incremental build")
        let log = try vault.eventLog()
        _ = try log.append((0..<added).map { i in
            let user = i % subjects.count
            let (kind, payload) = Self.payload(configuration.events + i, user: user)
            return NewEvent(subject: subjects[user], kind: kind, payload: payload, occurredAt: Self.time(configuration.events + i))
        })
        let incrementalClock = Stopwatch()
        let again = try builder.build()
        let incrementalSeconds = incrementalClock.elapsed
        return Result(events: report.events, people: report.people, appendSeconds: appendSeconds, buildSeconds: buildSeconds,
                      buildTimings: report.timings, withoutAnalysisSeconds: plainSeconds, withoutAnalysisTimings: plain.timings,
                      readSeconds: readSeconds, readCPUSeconds: readCPUSeconds, projections: report.projections, rssBeforeBuild: before,
                      peakBuildRSS: peak, peakReadRSS: readPeak, addedEvents: added, incrementalReadEvents: again.events,
                      incrementalSeconds: incrementalSeconds, incrementalTimings: again.timings)
    }

    /// A throw-away vault in `directory` (fast scrypt: a benchmark's), populated as `populate` does.
    func populatedVault(in directory: URL, passphrase: String, policy: Policy,
                        progress: (String) -> Void) throws -> (layout: VaultLayout, owner: Vault, subjects: [SubjectID]) {
        let layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        let owner = try Vault.create(layout: layout, ownerPassphrase: SecureBytes(Array(passphrase.utf8)), kdf: Self.benchKDF)
        progress("appending \(configuration.events) events for \(configuration.subjects) people")
        let subjects = try populate(vault: owner, policy: policy, progress: progress).subjects
        return (layout, owner, subjects)
    }

    /// Scrypt parameters of the benchmarks' throw-away vaults and actors.
    static let benchKDF = Scrypt.Parameters(logN: 10, r: 8, p: 1)

    /// Builds `owner`'s projections with `segments`, then adds the actor `name` in `role` (fast
    /// scrypt) and returns the vault unlocked as that actor: what every benchmark that reads as
    /// someone other than the owner sets up.
    static func buildProjections(of owner: Vault, policy: Policy, segments: [SegmentDefinition], thenUnlock name: String,
                                 role: Role, passphrase: SecureBytes, progress: (String) -> Void) throws -> Vault {
        progress("building projections")
        _ = try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build()
        try owner.addActor(name, role: role, passphrase: passphrase, kdf: benchKDF)
        return try Vault.unlock(layout: owner.layout, actor: name, passphrase: passphrase)
    }

    /// Appends the events and consents; returns the seconds it took and the
    /// subjects (person `user` of `payload(_:user:)` is `subjects[user]`).
    package func populate(vault: Vault, policy: Policy, progress: (String) -> Void = { _ in }) throws -> (seconds: Double, subjects: [SubjectID]) {
        let log = try vault.eventLog()
        let subjects = try (0..<max(1, configuration.subjects)).map { _ in try SubjectID.random() }
        let appendClock = Stopwatch()
        var batch: [NewEvent] = []
        var appended = 0
        while appended < configuration.events {
            batch.removeAll(keepingCapacity: true)
            let n = min(10_000, configuration.events - appended)
            for i in appended..<(appended + n) {
                let user = (i &* 7919) % subjects.count
                let (kind, payload) = Self.payload(i, user: user)
                batch.append(NewEvent(subject: subjects[user], kind: kind, payload: payload, occurredAt: Self.time(i)))
            }
            _ = try log.append(batch)
            appended += n
            if appended % 500_000 == 0 { progress("appended \(appended) events") }
        }
        let ledger = try vault.consentLedger()
        let desk = try ConsentDesk(vault: vault, policy: policy)
        try vault.database.write { db in
            var consents: [(ConsentRecord, SubjectID)] = []
            let marketing = Int((configuration.marketingShare * 100).rounded())
            let emailOptIn = policy.activation.channelConsents[.email]
            let granted = EventLog.now() - 86_400_000
            for (index, subject) in subjects.enumerated() {
                var purposes: [String] = []
                if index % 100 < marketing { purposes += ["marketing"] + (emailOptIn.map { $0 == "marketing" ? [] : [$0] } ?? []) }
                if index % 5 < 2 { purposes.append("personalisation") }
                for purpose in purposes where policy.purpose(purpose)?.needsConsent == true {
                    consents.append((try desk.makeRecord(purpose: purpose, status: .granted, effectiveAt: granted, source: "bench"), subject))
                }
            }
            let receipt = try log.append(try consents.map { NewEvent(subject: $0.1, kind: .consent, payload: try $0.0.payload()) }, in: db)
            for (index, (record, subject)) in consents.enumerated() {
                try ledger.applied(record, subject: subject, seq: receipt.firstSeq + Int64(index), in: db)
            }
        }
        return (appendClock.elapsed, subjects)
    }
}
