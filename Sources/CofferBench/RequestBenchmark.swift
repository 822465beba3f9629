import CofferCrypto
import CofferIngest
package import CofferPolicy
package import CofferProjection
package import CofferRequests
import CofferStore
package import Foundation
import GRDB

/// `coffer bench request`: in a vault of N café events with projections built,
/// the time to export and to erase one person with many events, and to verify
/// the log afterwards.
package struct RequestBenchmark {
    package struct Configuration: Sendable {
        /// Events of everyone else (the log holds these plus the person's).
        package var events = 990_000
        package var subjects = 99_000
        /// Events of the person exported and erased.
        package var personEvents = 10_000
        package init() {}
    }

    package struct Result: Sendable {
        package var logEvents: Int
        package var personEvents: Int
        package var setupSeconds: Double
        package var exportSeconds: Double
        package var exportBytes: Int
        package var eraseSeconds: Double
        package var receipt: ErasureReceipt
        package var verifySeconds: Double
        package var logIntact: Bool
        package var logHeadBefore: Int64
        package var logHeadAfter: Int64
        package var peakRSS: UInt64
    }

    package let configuration: Configuration
    package init(configuration: Configuration) { self.configuration = configuration }

    /// The person: an identify event, then purchases and visits.
    static let email = "big.customer@example.com"

    package func run(directory: URL, policy: Policy, segments: [SegmentDefinition], progress: (String) -> Void = { _ in }) throws -> Result {
        let layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        let ownerPass = try SecureBytes.random(count: 32), compliancePass = try SecureBytes.random(count: 32)
        let owner = try Vault.create(layout: layout, ownerPassphrase: ownerPass)
        let setup = Stopwatch()
        var population = ProjectBenchmark.Configuration()
        population.events = configuration.events
        population.subjects = configuration.subjects
        _ = try ProjectBenchmark(configuration: population).populate(vault: owner, policy: policy, progress: progress)

        progress("appending \(configuration.personEvents) events of one person")
        let graph = try owner.identityGraph()
        let log = try owner.eventLog()
        try owner.database.write { db in
            let subject = try graph.resolve([Identifier(type: .email, raw: Self.email)!], at: EventLog.now(), in: db).subject
            let events = (0..<configuration.personEvents).map { i -> NewEvent in
                if i == 0 {
                    return NewEvent(subject: subject, kind: .identify, payload: Array(#"{"timestamp":"2026-01-02T10:00:00Z","traits":{"email":"\#(Self.email)","firstName":"Bartholomew","lastName":"Quincey-Featherstone"},"type":"identify","userId":"big-customer-1"}"#.utf8))
                }
                // Café events of the population's shape, under the person's own user id.
                let (kind, payload) = ProjectBenchmark.payload(i, user: 1)
                let text = String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "user-1\"", with: "big-customer-1\"")
                    .replacingOccurrences(of: "customer.1@", with: "big.customer@")
                return NewEvent(subject: subject, kind: kind, payload: Array(text.utf8))
            }
            _ = try log.append(events, in: db)
        }
        let vault = try ProjectBenchmark.buildProjections(of: owner, policy: policy, segments: segments, thenUnlock: "bench-compliance",
                                                          role: .compliance, passphrase: compliancePass, progress: progress)
        let setupSeconds = setup.elapsed

        let desk = RequestDesk(vault: vault, policy: policy, segments: segments)
        let person = Identifier(type: .email, raw: Self.email)!
        let headBefore = try vault.eventLog().head().seq
        ResourceUsage.resetPeak()

        progress("exporting")
        let bundle = directory.appendingPathComponent("export.zip")
        let exportClock = Stopwatch()
        let export = try desk.export(subject: person, to: bundle)
        let exportSeconds = exportClock.elapsed

        progress("erasing")
        let eraseClock = Stopwatch()
        let signed = try desk.erase(subject: person)
        let eraseSeconds = eraseClock.elapsed

        progress("verifying the log")
        let verifyClock = Stopwatch()
        let report = try LogVerifier.verify(layout: layout)
        return Result(logEvents: Int(try vault.eventLog().head().seq), personEvents: export.events, setupSeconds: setupSeconds,
                      exportSeconds: exportSeconds, exportBytes: Int((try? FileManager.default.attributesOfItem(atPath: bundle.path)[.size] as? Int) ?? 0),
                      eraseSeconds: eraseSeconds, receipt: signed.receipt, verifySeconds: verifyClock.elapsed, logIntact: report.isValid,
                      logHeadBefore: headBefore, logHeadAfter: try vault.eventLog().head().seq, peakRSS: ResourceUsage.peakResidentBytes())
    }
}
