package import CofferActivation
import CofferCrypto
package import CofferPolicy
import CofferProjection
import CofferStore
package import Foundation

/// `coffer bench audience`: the time to export a large audience with every
/// member checked against the vault's live state, beside reading the same
/// members' addresses from the projection without checks.
package struct AudienceBenchmark {
    package struct Configuration: Sendable {
        package var people = 100_000
        /// Events per person in the log.
        package var eventsPerPerson = 3
        package init() {}
    }

    package struct Result: Sendable {
        package var people: Int
        package var setupSeconds: Double
        package var export: AudienceReport
        /// Reading the segment's member rows from the projection, no checks (the reference).
        package var plainReadSeconds: Double
        package var plainRows: Int
        package var fileBytes: Int
        package var peakRSS: UInt64
    }

    package let configuration: Configuration
    package init(configuration: Configuration) { self.configuration = configuration }

    /// In `directory`: a vault whose people all consent to marketing and email, the projections
    /// built with one segment of everyone, then an email export as a marketing actor.
    package func run(in directory: URL, policy: Policy, progress: (String) -> Void = { _ in }) throws -> Result {
        let clock = Date()
        var project = ProjectBenchmark.Configuration()
        project.subjects = configuration.people
        project.events = configuration.people * configuration.eventsPerPerson
        project.marketingShare = 1
        let (_, owner, subjects) = try ProjectBenchmark(configuration: project)
            .populatedVault(in: directory, passphrase: "bench audience owner passphrase", policy: policy, progress: progress)
        // Everyone gets an identify with an email and a phone (the log's own identifies reach a tenth of people).
        let log = try owner.eventLog()
        for start in stride(from: 0, to: subjects.count, by: 10_000) {
            _ = try log.append((start..<min(start + 10_000, subjects.count)).map { user in
                let (kind, payload) = ProjectBenchmark.payload(user * 10, user: user)
                return NewEvent(subject: subjects[user], kind: kind, payload: payload, occurredAt: ProjectBenchmark.time(user * 10))
            })
        }
        let segments = try SegmentCatalog.parse("segments:\n  everyone:\n    rule: shop_times >= 0\n", file: "bench.yaml",
                                                fields: SegmentCatalog.fields(for: policy))
        let marketer = try ProjectBenchmark.buildProjections(of: owner, policy: policy, segments: segments, thenUnlock: "bench-marketing",
                                                             role: .marketing,
                                                             passphrase: SecureBytes(Array("bench audience marketing passphrase".utf8)),
                                                             progress: progress)
        let setup = Date().timeIntervalSince(clock)

        progress("exporting")
        ResourceUsage.resetPeak()
        let out = directory.appendingPathComponent("audience.csv")
        let report = try AudienceExporter(vault: marketer, policy: policy).export(segment: "everyone", channel: .email, destination: nil, to: out)
        let peak = ResourceUsage.peakResidentBytes()
        let plainClock = Date()
        let reader = try ProjectionReader(vault: marketer, policy: policy, purpose: policy.activation.purpose, action: .query)
        let rows = try reader.query("""
            SELECT v.email, v.first_name, v.last_name FROM segment_members m JOIN single_view v ON v.customer_id = m.customer_id
            WHERE m.segment = 'everyone'
            """).rows.count
        let plain = Date().timeIntervalSince(plainClock)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0
        return Result(people: configuration.people, setupSeconds: setup, export: report, plainReadSeconds: plain, plainRows: rows,
                      fileBytes: bytes, peakRSS: peak)
    }
}
