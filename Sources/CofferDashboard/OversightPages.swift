import CofferFormats
package import CofferPolicy
import CofferProjection
import CofferRequests
package import CofferStore
import Foundation
import GRDB

/// The compliance officer's and the auditor's pages: the request register,
/// consent rates, erasures and retention; the audit trail, the integrity checks
/// and denials. They read the vault's registers and ledgers (never the event
/// log's contents), and show no person: requests by id, consent as rates.
package struct OversightPages {
    let vault: Vault
    let policy: Policy
    let now: Int64
    /// The audit trail's filters (`audit` page): none of them names a person.
    package var auditFilter = AuditFilter()

    package init(vault: Vault, policy: Policy, now: Int64 = EventLog.now()) {
        self.vault = vault
        self.policy = policy
        self.now = now
    }

    static let day: Int64 = 86_400_000

    package func render(_ page: DashboardPage) throws -> RenderedPage {
        var rendered = RenderedPage(page: page)
        switch page {
        case .requests, .erasures: try requests(&rendered, erasuresOnly: page == .erasures)
        case .consents: try consents(&rendered)
        case .retention: try retention(&rendered)
        case .audit: try audit(&rendered)
        case .integrity: try integrity(&rendered)
        case .denials: try denials(&rendered)
        default: break
        }
        return rendered
    }

    func requests(_ page: inout RenderedPage, erasuresOnly: Bool) throws {
        let records = try RequestDesk(vault: vault, policy: policy, segments: []).list()
        let shown = erasuresOnly ? records.filter { $0.type == .erase } : records
        let overdue = shown.filter { $0.isOverdue(at: now) }
        page.figures = [.init(label: erasuresOnly ? "erasure requests" : "requests", value: String(shown.count)),
                        .init(label: "open", value: String(shown.filter { $0.status == .open }.count)),
                        .init(label: "OVERDUE", value: String(overdue.count))]
        func date(_ millis: Int64?) -> String { millis.map { String(Timestamp.format($0).prefix(10)) } ?? "" }
        let rows = shown.reversed().map { record in
            [record.id, record.type.rawValue, date(record.receivedAt), date(record.dueAt), record.status.rawValue
                + (record.isOverdue(at: now) ? " OVERDUE" : ""), date(record.completedAt)] + (erasuresOnly ? [record.logSeq.map(String.init) ?? ""] : [])
        }
        // Requests by the month they arrived, per type.
        let months = Array(Set(shown.map { String(Timestamp.format($0.receivedAt).prefix(7)) })).sorted()
        let types = Array(Set(shown.map(\.type.rawValue))).sorted()
        page.sections.append(.init(
            id: erasuresOnly ? "erasures" : "register", title: erasuresOnly ? "Erasures and their receipts" : "Requests",
            chart: months.isEmpty ? nil : SVGChart.bars(title: erasuresOnly ? "Erasure requests by month received" : "Requests by month received",
                                                        categories: months, series: types.map { type in
                .init(name: type, values: months.map { month in
                    Double(shown.filter { $0.type.rawValue == type && Timestamp.format($0.receivedAt).hasPrefix(month) }.count)
                })
            }, yLabel: "requests"),
            table: DataTable(columns: ["request", "type", "received", "due", "status", "completed"] + (erasuresOnly ? ["erasure event (log seq)"] : []),
                             rows: rows),
            note: erasuresOnly ? "A completed erasure's receipt is signed; `coffer request verify RECEIPT --public-key audit.key` checks it." : nil))
    }

    func consents(_ page: inout RenderedPage) throws {
        try vault.require(.readConsent, for: .consentShow)
        let purposes = policy.purposes.filter(\.needsConsent).map(\.name)
        // Month ends over the last 12 months, and now.
        var instants: [Int64] = []
        let (year, month, _) = CivilCalendar.civilFromDays(CivilCalendar.days(now))
        for back in (1...12).reversed() {
            let total = year * 12 + (month - 1) - back + 1
            instants.append(Int64(CivilCalendar.daysFromCivil(year: total / 12, month: total % 12 + 1, day: 1)) * Self.day - 1)
        }
        instants.append(now)
        let labels = instants.dropLast().map { String(Timestamp.format($0).prefix(7)) } + ["now"]
        let (subjects, granted) = try vault.database.read { db -> (Int, [[Int]]) in
            let people = try Int.fetchOne(db, sql: "SELECT count(DISTINCT subject_id) FROM identities") ?? 0
            // From the current decisions (the state table; the history is in the encrypted log, which no page reads):
            // a grant counts from when it took effect until it lapses.
            let statement = try db.makeStatement(sql: """
                SELECT count(*) FROM consents WHERE purpose = ? AND status = 'granted' AND effective_at <= ?
                AND (expires_at IS NULL OR expires_at > ?)
                """)
            let rates = try purposes.map { purpose in
                try instants.map { try Int.fetchOne(statement, arguments: [purpose, $0, $0]) ?? 0 }
            }
            return (people, rates)
        }
        page.figures = [.init(label: "people in the vault", value: String(subjects))]
        let minimum = policy.minimumGroupSize
        page.sections.append(.init(
            id: "rates", title: "Consent in force, per purpose",
            chart: SVGChart.lines(title: "Share of people whose consent is in force", xLabels: labels, series: zip(purposes, granted).map { purpose, counts in
                .init(name: purpose, values: counts.map { subjects > 0 && $0 >= minimum ? Double($0) / Double(subjects) : nil })
            }, yLabel: "share of people"),
            table: DataTable(columns: ["purpose"] + labels, rows: zip(purposes, granted).map { purpose, counts in
                [purpose] + counts.map { $0 < minimum ? "< \(minimum)" : String(format: "%.3f", Double($0) / Double(max(subjects, 1))) }
            }),
            note: "From each person's current decision: a grant counts from when it took effect until it lapses; someone who "
                + "withdrew since counts in no month (the history of decisions is in the encrypted log, which no page reads). "
                + "Shares are of everyone in the vault now; a count of fewer than \(minimum) people is withheld."))
    }

    func retention(_ page: inout RenderedPage) throws {
        let periods = policy.retention.sorted { $0.key < $1.key }
        page.sections.append(.init(id: "periods", title: "Retention periods (policy)", chart: nil,
                                   table: DataTable(columns: ["kind", "kept for"], rows: periods.map { [$0.key, $0.value.description] })))
        let runs = try vault.auditEntries(AuditFilter(action: .retentionApply)).suffix(20).reversed()
        page.figures = [.init(label: "last retention run", value: runs.first.map { String(Timestamp.format($0.at).prefix(16)) } ?? "never")]
        page.sections.append(.init(id: "runs", title: "Retention runs", chart: nil,
                                   table: DataTable(columns: ["at", "actor", "decision", "rows", "what"], rows: runs.map { entry in
                                       [Timestamp.format(entry.at), entry.details.actor, entry.decision.rawValue, String(entry.details.rows),
                                        entry.details.reason ?? ""]
                                   }),
                                   note: "`coffer retention apply --dry-run` lists what is past its period now."))
    }

    func audit(_ page: inout RenderedPage) throws {
        let entries = try vault.auditEntries(auditFilter)
        page.figures = [.init(label: "entries matching", value: String(entries.count)),
                        .init(label: "denied", value: String(entries.filter { $0.decision == .denied }.count))]
        page.sections.append(.init(
            id: "entries", title: "Latest entries (newest first, up to 200)", chart: nil,
            table: DataTable(columns: ["seq", "at", "actor", "role", "action", "decision", "purpose", "rows", "signed"],
                             rows: entries.suffix(200).reversed().map { entry in
                                 [String(entry.seq), Timestamp.format(entry.at), entry.details.actor, entry.details.role, entry.action.rawValue,
                                  entry.decision.rawValue, entry.details.purpose ?? "", String(entry.details.rows), entry.signed ? "yes" : "no"]
                             })))
    }

    func integrity(_ page: inout RenderedPage) throws {
        let log = try LogVerifier.verify(layout: vault.layout)
        let audit = try AuditVerifier.verify(layout: vault.layout)
        page.figures = [.init(label: "event log", value: log.isValid ? "verified" : "FAILED"),
                        .init(label: "audit trail", value: audit.isValid ? "verified" : "FAILED")]
        page.sections.append(.init(id: "checks", title: "`coffer verify` and `coffer audit verify`, run for this page", chart: nil,
                                   table: DataTable(columns: ["check", "result", "detail"], rows: [
                                       ["event log (hash chain, signed checkpoints)", log.isValid ? "ok" : "FAILED",
                                        log.failure.map { "\($0)" } ?? "\(log.eventCount) events, \(log.checkpointCount) signed checkpoints"],
                                       ["audit trail (chain, signatures)", audit.isValid ? "ok" : "FAILED",
                                        audit.failure.map { "\($0)" } ?? "\(audit.entryCount) entries, \(audit.signedCount) signed, head seq \(audit.headSeq), "
                                            + "key \(audit.keyFingerprint)"],
                                   ])))
    }

    func denials(_ page: inout RenderedPage) throws {
        let since = now - 30 * Self.day
        let denied = try vault.auditEntries(AuditFilter(since: since, decision: .denied))
        let days = (0..<30).map { String(Timestamp.format(since + Int64($0 + 1) * Self.day).prefix(10)) }
        var perDay: [String: Int] = [:]
        for entry in denied { perDay[String(Timestamp.format(entry.at).prefix(10)), default: 0] += 1 }
        page.figures = [.init(label: "denials in the last 30 days", value: String(denied.count))]
        page.sections.append(.init(
            id: "per-day", title: "Denials per day",
            chart: SVGChart.bars(title: "Denied accesses per day (last 30 days)", categories: days.map { String($0.suffix(5)) },
                                 series: [.init(name: "denials", values: days.map { Double(perDay[$0] ?? 0) })], yLabel: "denials"),
            table: DataTable(columns: ["day", "denials"], rows: days.map { [$0, String(perDay[$0] ?? 0)] })))
        var byReason: [String: Int] = [:]
        for entry in denied { byReason["\(entry.details.actor) · \(entry.action.rawValue)", default: 0] += 1 }
        page.sections.append(.init(id: "by-actor", title: "Denials by actor and action", chart: nil,
                                   table: DataTable(columns: ["actor · action", "denials"],
                                                    rows: byReason.sorted { $0.value > $1.value }.map { [$0.key, String($0.value)] })))
    }
}
