@testable import CofferDashboard
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import Testing
import CofferTestSupport

/// Issue 21: each role's pages show what its projections and keys hold, the
/// same numbers `coffer query` gives, with small cells withheld; other roles' pages are refused and audited.
@Suite(.serialized)
struct DashboardPageTests {
    static let fixture = Result { try DashboardFixture() }

    @Test("the analyst's overview and pattern pages show the numbers analyst SQL gives on the same projection")
    func analystNumbers() throws {
        let fixture = try Self.fixture.get()
        let desk = try fixture.desk("ana")
        let reader = try ProjectionReader(vault: try fixture.unlock("ana"), policy: fixture.policy, purpose: "analytics", action: .query)
        let overview = try desk.render(.overview)
        #expect(overview.purpose == "analytics")
        let customers = try reader.query("SELECT count(*) FROM single_view").rows[0][0].description
        #expect(overview.figures.first == .init(label: "customers", value: customers))
        let active = try reader.query("SELECT count(*) FROM single_view WHERE recency <= 90").rows[0][0].description
        #expect(overview.figures.contains(.init(label: "active (bought in the last 90 days)", value: active)))
        let mix = try reader.query("SELECT month, channel, purchases, customers, share FROM channel_mix ORDER BY month, channel").rows
        #expect(overview.section("channels")?.table.rows == mix.map { $0.map(\.description) })
        let hours = try desk.render(.hours)
        let cells = try reader.query("SELECT sum(purchases) FROM purchase_hours").rows[0][0].double ?? -1
        #expect(hours.section("weekday-hour")?.table.rows.compactMap { Double($0[2]) }.reduce(0, +) == cells)
        #expect(hours.section("weekday-hour")?.chart?.contains("Purchases by weekday and hour") == true)
        let value = try desk.render(.value)
        let grid = try reader.query("SELECT count(*) FROM single_view WHERE rfm_recency = 5 AND rfm_frequency = 5").rows[0][0].double ?? -1
        let shown = value.section("rfm")?.table.rows.first { $0[0] == "5" && $0[1] == "5" }?[2]
        #expect(shown == (grid < 5 ? "< 5" : String(Int(grid))))
    }

    @Test("segment sizes over time: one point per build, from the file's own segment_history")
    func segmentHistory() throws {
        let fixture = try Self.fixture.get()
        let segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path,
                                               policy: fixture.policy, required: true)
        _ = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: segments).build(now: EventLog.now() + 60_000)
        let page = try fixture.desk("ana").render(.segments)
        let history = try #require(page.section("history"))
        let builds = Set(history.table.rows.map(\.[0]))
        #expect(builds.count >= 2 && history.chart?.contains("<polyline") == true)
        let sizes = Dictionary(uniqueKeysWithValues: page.section("sizes")!.table.rows.map { ($0[0], $0[1]) })
        let latest = history.table.rows.filter { $0[0] == builds.max() }
        #expect(!latest.isEmpty && latest.allSatisfy { sizes[$0[1]] == $0[2] }, "the last build's sizes are the current ones")
        #expect(history.table.rows.allSatisfy { (Int($0[2]) ?? 0) >= 5 }, "no size below k is kept")
    }

    @Test("no cell the dashboard shows counts fewer people than the minimum group size")
    func smallCells() throws {
        let fixture = try Self.fixture.get()
        let desk = try fixture.desk("mia")
        for page in DashboardPage.pages(for: .marketing) {
            let rendered = try desk.render(page)
            for section in rendered.sections {
                for (index, column) in section.table.columns.enumerated() where ["people", "customers"].contains(column) {
                    for row in section.table.rows {
                        let cell = row[index]
                        #expect(cell == "< 5" || (Int(cell) ?? 0) >= 5, "\(page).\(section.id): \(row)")
                    }
                }
            }
        }
        // A segment below k shows "< 5", not a size.
        let segments = try desk.render(.segments).section("sizes")!.table.rows
        #expect(segments.allSatisfy { $0[1] == "< 5" || (Int($0[1]) ?? 0) >= 5 })
    }

    @Test("another role's page is refused and the refusal audited; every page view is an audit entry")
    func roles() throws {
        let fixture = try Self.fixture.get()
        let analyst = try fixture.desk("ana")
        #expect(throws: DashboardError.forbidden(page: "requests", role: "analyst")) { try analyst.render(.requests) }
        #expect(throws: DashboardError.forbidden(page: "audit", role: "analyst")) { try analyst.render(.audit) }
        let auditor = try fixture.desk("aud")
        #expect(throws: DashboardError.forbidden(page: "overview", role: "auditor")) { try auditor.render(.overview) }
        #expect(throws: DashboardError.self, "a purpose the policy does not give the role") { try analyst.render(.overview, purpose: "support") }
        _ = try analyst.render(.cohorts)
        let entries = try fixture.owner.auditEntries(AuditFilter(actor: "ana", action: .dashboardView))
        #expect(entries.contains { $0.decision == .denied && $0.details.target == "page:requests" })
        #expect(entries.contains { $0.decision == .allowed && $0.details.target == "page:cohorts" && $0.details.purpose == "analytics" })
        #expect(try fixture.owner.auditEntries(AuditFilter(actor: "aud", action: .dashboardView, decision: .denied)).count == 1)
    }

    @Test("compliance sees the register, consent rates and erasures; the auditor the trail, integrity and denials")
    func oversight() throws {
        let fixture = try Self.fixture.get()
        let dpo = try fixture.desk("dpo")
        let consents = try dpo.render(.consents)
        let marketing = try #require(consents.section("rates")?.table.rows.first { $0[0] == "marketing" })
        #expect(marketing.count == 14 && (Double(marketing.last!) ?? 0) > 0.2, "\(marketing)")
        #expect(try dpo.render(.requests).figures.first?.label == "requests")
        let auditor = try fixture.desk("aud")
        let integrity = try auditor.render(.integrity)
        #expect(integrity.figures == [.init(label: "event log", value: "verified"), .init(label: "audit trail", value: "verified")])
        let denials = try auditor.render(.denials)
        #expect(denials.section("per-day")?.table.rows.count == 30)
        let audit = try auditor.render(.audit, auditFilter: AuditFilter(actor: "aud"))
        #expect(audit.section("entries")?.table.rows.allSatisfy { $0[2] == "aud" } == true)
    }

    @Test("the static report holds every page of the role, inline, with nothing to fetch, and is audited with its hash")
    func staticReport() throws {
        let fixture = try Self.fixture.get()
        let html = try fixture.desk("ana").staticReport()
        for page in DashboardPage.pages(for: .analyst) { #expect(html.contains("<h1>\(HTML.escape(page.title))</h1>"), "\(page)") }
        // The SVG namespace is a name, not an address anything fetches.
        let addresses = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!html.contains("href=\"/") && !html.contains("src=") && !html.contains("<script") && !html.contains("<link"))
        #expect(!addresses.contains("http://") && !addresses.contains("https://") && !addresses.contains("url(h"))
        let digest = try CofferCrypto.SHA256.hash(Array(html.utf8)).hexString
        #expect(try fixture.owner.auditEntries(AuditFilter(actor: "ana", action: .dashboardExport)).contains { $0.details.reason?.contains(digest) == true })
    }
}
