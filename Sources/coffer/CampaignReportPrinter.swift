import CofferActivation
import CofferAnalysis
import CofferFormats
import Foundation

/// `campaign report` as a table, CSV or JSON.
struct CampaignReportPrinter {
    let report: CampaignReport

    var k: Int { report.minimumGroupSize }

    func cells(_ row: CampaignReport.Row) -> [String] {
        guard !row.suppressed else { return [row.group, "< \(k)"] + Array(repeating: "", count: 7) }
        return [row.group, String(row.members), String(row.sent), String(row.delivered), String(row.opened), String(row.clicked),
                String(row.conversions), String(format: "%.4f", row.conversionRate), String(format: "%.2f", row.revenuePerMember)]
    }

    static let header = ["group", "members", "sent", "delivered", "opened", "clicked", "conversions", "conversion_rate", "revenue_per_member"]

    func upliftCells(_ entry: (variant: String, uplift: Uplift?)) -> [String] {
        guard let uplift = entry.uplift else { return [entry.variant, "", "", "", "", "", "", "", ""] }
        func f(_ value: Double) -> String { String(format: "%.4f", value) }
        let relative = uplift.relativeConversion
        return [entry.variant, f(uplift.conversion.estimate), f(uplift.conversion.low), f(uplift.conversion.high),
                relative.map { f($0.estimate) } ?? "", relative.map { "\(f($0.low))..\(f($0.high))" } ?? "",
                f(uplift.revenue.estimate), f(uplift.revenue.low), f(uplift.revenue.high)]
    }

    static let upliftHeader = ["variant", "conversion_uplift", "ci95_low", "ci95_high", "relative_uplift", "relative_ci95",
                               "revenue_uplift", "revenue_ci95_low", "revenue_ci95_high"]

    func print(_ format: CampaignCommand.Format) {
        switch format {
        case .table:
            Terminal.line("campaign \(report.campaign.name): purchases from \(Timestamp.format(report.windowStart)) to \(Timestamp.format(report.windowEnd))")
            table([Self.header] + report.rows.map(cells))
            Terminal.line("")
            Terminal.line("uplift against the holdout (95 % intervals; empty where a group is below \(k) people or there is no holdout):")
            table([Self.upliftHeader] + report.uplift.map(upliftCells))
        case .csv:
            for line in [Self.header] + report.rows.map(cells) { Terminal.line(line.joined(separator: ",")) }
            Terminal.line("")
            for line in [Self.upliftHeader] + report.uplift.map(upliftCells) { Terminal.line(line.joined(separator: ",")) }
        case .json:
            let groups = report.rows.map { row -> [String: Any] in
                row.suppressed ? ["group": row.group, "members": "< \(k)"]
                    : ["group": row.group, "members": row.members, "sent": row.sent, "delivered": row.delivered, "opened": row.opened,
                       "clicked": row.clicked, "conversions": row.conversions, "conversion_rate": row.conversionRate,
                       "revenue_per_member": row.revenuePerMember]
            }
            let uplift = report.uplift.map { entry -> [String: Any] in
                guard let value = entry.uplift else { return ["variant": entry.variant] }
                func interval(_ i: Uplift.Interval) -> [String: Any] {
                    ["estimate": finite(i.estimate), "ci95_low": finite(i.low), "ci95_high": finite(i.high)]
                }
                var object: [String: Any] = ["variant": entry.variant, "conversion": interval(value.conversion), "revenue": interval(value.revenue),
                                             "welch_df": finite(value.degreesOfFreedom)]
                if let relative = value.relativeConversion { object["relative_conversion"] = interval(relative) }
                return object
            }
            let object: [String: Any] = ["campaign": report.campaign.name, "window_start": Timestamp.format(report.windowStart),
                                         "window_end": Timestamp.format(report.windowEnd), "groups": groups, "uplift": uplift]
            do {
                Terminal.line(String(decoding: try CanonicalJSON.data(object), as: UTF8.self))
            } catch {
                Terminal.error("the report could not be written as JSON: \(error)")
            }
        }
    }

    /// JSON has no infinity (Welch's degrees of freedom when neither group's revenue varies): null.
    func finite(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

    func table(_ rows: [[String]]) {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            Terminal.line(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}
