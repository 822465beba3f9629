import CofferAnalysis
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferStore
import Foundation
import GRDB

/// The campaigns' reach and uplift, written into the activation purpose's
/// projection files as `campaign_results` (after each `project build`), so that
/// analysts and marketers see them, on the dashboard or in SQL, without reading
/// anyone's events. Groups below the minimum group size keep their name only.
package enum CampaignResults {
    package static let schema = """
        CREATE TABLE campaign_results (campaign TEXT NOT NULL, grp TEXT NOT NULL, window_start TEXT NOT NULL, window_end TEXT NOT NULL,
            members INTEGER, sent INTEGER, delivered INTEGER, opened INTEGER, clicked INTEGER, conversions INTEGER,
            conversion_rate REAL, revenue_per_member REAL, conversion_uplift REAL, conversion_ci_low REAL, conversion_ci_high REAL,
            revenue_uplift REAL, revenue_ci_low REAL, revenue_ci_high REAL, PRIMARY KEY (campaign, grp)) WITHOUT ROWID;
        """

    /// The latest campaigns written (their reports read the members' events).
    static let limit = 20

    /// Computes every campaign's report (owner) over `window` and writes the results into the
    /// activation purpose's files. Returns the campaigns written.
    @discardableResult
    package static func publish(vault: Vault, policy: Policy, window: PolicyDuration = PolicyDuration("14d")!,
                                now: Int64 = EventLog.now()) throws -> Int {
        let desk = CampaignDesk(vault: vault, policy: policy)
        let reports = try desk.list().suffix(limit).map { try desk.report($0.name, window: window, now: now) }
        // No campaign yet: nothing to add, and the files are not opened and sealed again for nothing.
        guard !reports.isEmpty else { return 0 }
        try ProjectionAmend.files(of: policy.activation.purpose, vault: vault) { _, db in
            try db.execute(sql: "DROP TABLE IF EXISTS campaign_results")
            try db.execute(sql: schema)
            let insert = try db.makeStatement(sql: "INSERT INTO campaign_results VALUES (\(Array(repeating: "?", count: 18).joined(separator: ", ")))")
            for report in reports {
                for row in report.rows {
                    let uplift = report.uplift.first { $0.variant == row.group }?.uplift
                    let shown: [(any DatabaseValueConvertible)?] = row.suppressed ? Array(repeating: nil, count: 8) : [
                        row.members, row.sent, row.delivered, row.opened, row.clicked, row.conversions, row.conversionRate, row.revenuePerMember,
                    ]
                    let lift: [(any DatabaseValueConvertible)?] = uplift.map {
                        [$0.conversion.estimate, $0.conversion.low, $0.conversion.high, $0.revenue.estimate, $0.revenue.low, $0.revenue.high]
                    } ?? Array(repeating: nil, count: 6)
                    try insert.execute(arguments: StatementArguments([report.campaign.name, row.group, Timestamp.format(report.windowStart),
                                                                      Timestamp.format(report.windowEnd)] + shown + lift))
                }
            }
        }
        return reports.count
    }
}
