package import CofferStore

/// The dashboard's pages, and which roles see each. A role asking for another
/// role's page gets 403.
package enum DashboardPage: String, CaseIterable, Sendable {
    // Analyst and marketing: from the role's projections.
    case overview, segments, value, cohorts, hours, affinity, campaigns
    // Compliance: the request register, consent, erasures, retention.
    case requests, consents, erasures, retention
    // Auditor: the audit trail, integrity, denials.
    case audit, integrity, denials

    package var title: String {
        switch self {
        case .overview: return "Overview"
        case .segments: return "Segments"
        case .value: return "RFM and customer value"
        case .cohorts: return "Cohort retention"
        case .hours: return "When customers buy"
        case .affinity: return "Product affinity"
        case .campaigns: return "Campaigns"
        case .requests: return "Request register"
        case .consents: return "Consent rates"
        case .erasures: return "Erasure receipts"
        case .retention: return "Retention"
        case .audit: return "Audit trail"
        case .integrity: return "Integrity"
        case .denials: return "Denials"
        }
    }

    /// Whether the page reads a projection (and so has a purpose).
    package var readsProjections: Bool {
        switch self {
        case .overview, .segments, .value, .cohorts, .hours, .affinity, .campaigns: return true
        default: return false
        }
    }

    package var roles: Set<Role> {
        switch self {
        case .overview, .segments, .value, .cohorts, .hours, .affinity, .campaigns: return [.analyst, .marketing, .owner]
        case .requests, .consents, .erasures, .retention: return [.compliance, .owner]
        case .audit, .integrity, .denials: return [.auditor, .owner]
        }
    }

    /// The pages `role` may open, in menu order.
    package static func pages(for role: Role) -> [DashboardPage] {
        allCases.filter { $0.roles.contains(role) }
    }
}

/// A page as shown: headline figures, then sections of a chart (SVG) with its data
/// table beside it, each downloadable as CSV.
package struct RenderedPage: Sendable {
    package struct Figure: Sendable, Equatable {
        package var label: String
        package var value: String
    }

    package struct Section: Sendable {
        /// In the CSV download's address: `/p/PAGE/ID.csv`.
        package var id: String
        package var title: String
        package var chart: String?
        package var table: DataTable
        package var note: String?
    }

    package var page: DashboardPage
    package var purpose: String?
    package var figures: [Figure] = []
    package var sections: [Section] = []
    /// Said instead of sections when the page has nothing to show (no projection built, say).
    package var notice: String?

    package func section(_ id: String) -> Section? { sections.first { $0.id == id } }
}
