import CofferCrypto
package import CofferDashboard
package import CofferPolicy
import CofferProjection
import CofferStore
package import Foundation

/// `coffer bench dashboard`: how long each analyst page takes to render from a
/// large projection (queries, charts, tables, the HTML), beside opening the
/// projection (decrypting it) and one plain count on it, in the same run.
package struct DashboardBenchmark {
    package struct Configuration: Sendable {
        package var people = 100_000
        package var eventsPerPerson = 5
        /// Renders of each page (the median is reported).
        package var repeats = 5
        package init() {}
    }

    package struct PageTime: Sendable {
        package var page: DashboardPage
        package var first: Double
        package var median: Double
        package var bytes: Int
    }

    package struct Result: Sendable {
        package var people: Int
        package var setupSeconds: Double
        /// Decrypting the analyst's projection (once per session, at its first page).
        package var openSeconds: Double
        /// `SELECT count(*) FROM single_view` on it.
        package var countSeconds: Double
        package var pages: [PageTime]
        package var peakRSS: UInt64
    }

    package let configuration: Configuration
    package init(configuration: Configuration) { self.configuration = configuration }

    package func run(in directory: URL, policy: Policy, progress: (String) -> Void = { _ in }) throws -> Result {
        let clock = Date()
        var project = ProjectBenchmark.Configuration()
        project.subjects = configuration.people
        project.events = configuration.people * configuration.eventsPerPerson
        let (_, owner, _) = try ProjectBenchmark(configuration: project)
            .populatedVault(in: directory, passphrase: "bench dashboard owner passphrase", policy: policy, progress: progress)
        let segments = try SegmentCatalog.parse("""
            segments:
              buyers:
                rule: shop_times >= 1
              regulars:
                rule: shop_times >= 3
              online:
                rule: online_share > 0.5
            """, file: "bench.yaml", fields: SegmentCatalog.fields(for: policy))
        let analyst = try ProjectBenchmark.buildProjections(of: owner, policy: policy, segments: segments, thenUnlock: "bench-analyst",
                                                            role: .analyst, passphrase: SecureBytes(Array("bench dashboard analyst passphrase".utf8)),
                                                            progress: progress)
        let setup = Date().timeIntervalSince(clock)

        progress("rendering pages")
        ResourceUsage.resetPeak()
        let purpose = ProjectionReader.defaultPurpose(for: .analyst, policy: policy) ?? "analytics"
        var started = Date()
        let reader = try ProjectionReader(vault: analyst, policy: policy, purpose: purpose, action: .query)
        let open = Date().timeIntervalSince(started)
        started = Date()
        _ = try reader.aggregate("SELECT count(*) FROM single_view")
        let count = Date().timeIntervalSince(started)
        let desk = DashboardDesk(vault: analyst, policy: policy)
        var pages: [PageTime] = []
        for page in DashboardPage.pages(for: .analyst) {
            var times: [Double] = [], bytes = 0
            for _ in 0..<max(configuration.repeats, 1) {
                let start = Date()
                let rendered = try desk.render(page, purpose: purpose)
                bytes = PageHTML.page(rendered, actor: analyst.actor, role: .analyst, purposes: desk.purposes, csrf: "x").utf8.count
                times.append(Date().timeIntervalSince(start))
            }
            let sorted = times.sorted()
            pages.append(PageTime(page: page, first: times[0], median: sorted[sorted.count / 2], bytes: bytes))
        }
        return Result(people: configuration.people, setupSeconds: setup, openSeconds: open, countSeconds: count, pages: pages,
                      peakRSS: ResourceUsage.peakResidentBytes())
    }
}
