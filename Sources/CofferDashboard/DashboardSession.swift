import CofferCrypto
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferStore
import Foundation

extension AuditAction {
    /// A dashboard page shown (or refused), like `view` and `query`.
    package static let dashboardView = AuditAction(rawValue: "dashboard-view")
    /// A chart's data downloaded as CSV from the dashboard.
    package static let dashboardDownload = AuditAction(rawValue: "dashboard-download")
    /// Signing in and out of the dashboard, and the failed sign-ins before.
    package static let dashboardSignIn = AuditAction(rawValue: "dashboard-sign-in")
    package static let dashboardSignOut = AuditAction(rawValue: "dashboard-sign-out")
    /// `report dashboard`: the pages written to one file.
    package static let dashboardExport = AuditAction(rawValue: "dashboard-export")
}

/// One signed-in actor's view of the vault: their unlocked keys (held only while
/// the session lives: dropping it releases them, and `SecureBytes` wipes them),
/// the projections they opened (decrypted once, in memory), and the page renderer.
/// Not thread-safe: the server serialises each session's requests.
package final class DashboardDesk {
    package let vault: Vault
    let policy: Policy
    private var readers: [String: ProjectionReader] = [:]

    package init(vault: Vault, policy: Policy) {
        self.vault = vault
        self.policy = policy
    }

    package var role: Role { vault.role }

    /// The purposes whose projections this role reads, in policy order.
    package var purposes: [String] {
        policy.purposes.map(\.name).filter { policy.access[vault.role]?.purposes[$0] != nil }
    }

    /// Renders `page` (from `purpose`'s projection for insight pages; default the role's first)
    /// and audits the view. - Throws: `DashboardError.forbidden` for another role's page.
    package func render(_ page: DashboardPage, purpose: String? = nil, auditFilter: AuditFilter = AuditFilter(),
                        action: AuditAction = .dashboardView, target: String? = nil) throws -> RenderedPage {
        guard page.roles.contains(vault.role) else {
            try vault.audit(action, decision: .denied, target: "page:\(page.rawValue)",
                            reason: "role \(vault.role.rawValue) has no \(page.rawValue) page")
            throw DashboardError.forbidden(page: page.rawValue, role: vault.role.rawValue)
        }
        let rendered: RenderedPage
        if page.readsProjections {
            let chosen = purpose ?? purposes.first
            guard let chosen, purposes.contains(chosen) else {
                try vault.audit(action, decision: .denied, purpose: purpose, target: "page:\(page.rawValue)",
                                reason: "the policy gives role \(vault.role.rawValue) no projection of this purpose")
                throw DashboardError.forbidden(page: page.rawValue, role: vault.role.rawValue)
            }
            do {
                rendered = try InsightPages(reader: try reader(chosen), minimumGroupSize: policy.minimumGroupSize).render(page)
            } catch let error as ProjectionError {
                var empty = RenderedPage(page: page, purpose: chosen)
                empty.notice = error.message
                rendered = empty
            }
        } else {
            var pages = OversightPages(vault: vault, policy: policy)
            pages.auditFilter = auditFilter
            do {
                rendered = try pages.render(page)
            } catch let error as VaultError {
                var empty = RenderedPage(page: page)
                empty.notice = error.message
                rendered = empty
            }
        }
        try vault.audit(action, purpose: rendered.purpose, target: target ?? "page:\(page.rawValue)",
                        rows: rendered.sections.map(\.table.rows.count).reduce(0, +))
        return rendered
    }

    /// The projection of `purpose`, decrypted on first use and kept for the session.
    func reader(_ purpose: String) throws -> ProjectionReader {
        if let reader = readers[purpose] { return reader }
        let reader = try ProjectionReader(vault: vault, policy: policy, purpose: purpose, action: .dashboardView)
        readers[purpose] = reader
        return reader
    }

    /// Every page the role may see, as one self-contained HTML file (no links out, the
    /// stylesheet inline), audited as an export with the file's SHA-256.
    package func staticReport(now: Int64 = EventLog.now()) throws -> String {
        var body = ""
        for page in DashboardPage.pages(for: vault.role) {
            let purposes: [String?] = page.readsProjections ? self.purposes : [nil]
            for purpose in purposes {
                let rendered = try render(page, purpose: purpose, action: .dashboardExport, target: "report:\(page.rawValue)")
                body += "<article>" + PageHTML.body(rendered, purposes: [], links: false) + "</article>"
            }
        }
        let html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            + "<meta http-equiv=\"Content-Security-Policy\" content=\"\(DashboardHeaders.staticReportPolicy)\">"
            + "<title>Coffer dashboard · \(HTML.escape(vault.actor)) · \(Timestamp.format(now).prefix(10))</title><style>\(PageHTML.stylesheet)</style></head><body>"
            + "<header><strong>Coffer</strong><span class=\"who\">\(HTML.escape(vault.actor)) (\(vault.role.rawValue)), "
            + "\(Timestamp.format(now))</span></header><main>\(body)</main></body></html>\n"
        let digest = try SHA256.hash(Array(html.utf8)).hexString
        try vault.audit(.dashboardExport, target: "report", rows: html.utf8.count, reason: "dashboard report sha256 \(digest)")
        return html
    }
}

/// Why a dashboard request was refused.
package enum DashboardError: CofferError, Equatable {
    case forbidden(page: String, role: String)
    case sessionEnded

    package var description: String {
        switch self {
        case let .forbidden(page, role):
            return Self.line("role \(role) may not open the \(page) page", remedy: "sign in as an actor whose role has it")
        case .sessionEnded:
            return Self.line("the session ended", remedy: "sign in again")
        }
    }
}

/// Security headers on every dashboard answer.
package enum DashboardHeaders {
    /// Nothing but this server's own stylesheet, forms posted back to it, no framing, no scripts.
    package static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// The static report's: its one stylesheet is inline, and it has no form and no server.
    package static let staticReportPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"
}
