package import CofferProjection
import Foundation

/// The analyst's and marketer's pages, computed from one decrypted projection
/// (the role's file of a purpose) and never from the log. Every figure and cell
/// that counts fewer people than the minimum group size is withheld ("< k"), in
/// the chart and in its table alike.
package struct InsightPages {
    let reader: ProjectionReader
    let minimum: Int

    package init(reader: ProjectionReader, minimumGroupSize: Int) {
        self.reader = reader
        minimum = minimumGroupSize
    }

    var withheld: String { "< \(minimum)" }

    func rows(_ sql: String) throws -> [[Cell]] { try reader.aggregate(sql).rows }

    /// The columns of this file's single view.
    func columns() throws -> Set<String> {
        Set(try rows("SELECT name FROM columns").map(\.[0].description))
    }

    /// A count as shown: withheld below the minimum group size.
    func count(_ value: Int) -> String { value < minimum ? withheld : String(value) }

    /// A count as a chart draws it: nil (no mark) when missing or below the minimum group size.
    func drawn(_ value: Cell?) -> Double? { value?.double.flatMap { $0 >= Double(minimum) ? $0 : nil } }

    package func render(_ page: DashboardPage) throws -> RenderedPage {
        var rendered = RenderedPage(page: page, purpose: reader.purpose)
        switch page {
        case .overview: try overview(&rendered)
        case .segments: try segments(&rendered)
        case .value: try value(&rendered)
        case .cohorts: try cohorts(&rendered)
        case .hours: try hours(&rendered)
        case .affinity: try affinity(&rendered)
        case .campaigns: try campaigns(&rendered)
        default: break
        }
        return rendered
    }

    func overview(_ page: inout RenderedPage) throws {
        let fields = try columns()
        let total = try rows("SELECT count(*) FROM single_view")[0][0].double.map(Int.init) ?? 0
        page.figures.append(.init(label: "customers", value: count(total)))
        if fields.contains("recency") {
            let active = try rows("SELECT count(*) FROM single_view WHERE recency <= 90")[0][0].double.map(Int.init) ?? 0
            page.figures.append(.init(label: "active (bought in the last 90 days)", value: count(active)))
        }
        if fields.contains("shop_times") {
            let buyers = try rows("SELECT count(*) FROM single_view WHERE shop_times > 0")[0][0].double.map(Int.init) ?? 0
            page.figures.append(.init(label: "buyers", value: count(buyers)))
        }
        // Revenue by calendar month: the cohort cells (each at least k customers) summed by the month they fall in.
        let months = try rows("""
            SELECT strftime('%Y-%m', cohort || '-01', '+' || months_since || ' months') AS month, round(sum(revenue), 2), sum(customers)
            FROM cohorts GROUP BY month ORDER BY month
            """)
        let labels = months.map(\.[0].description)
        page.sections.append(.init(
            id: "revenue", title: "Revenue by month",
            chart: months.isEmpty ? nil : SVGChart.bars(title: "Revenue by month", categories: labels,
                                                        series: [.init(name: "revenue", values: months.map(\.[1].double))], yLabel: "revenue"),
            table: DataTable(columns: ["month", "revenue", "customers (sum over cohorts)"],
                             rows: months.map { [$0[0].description, $0[1].description, $0[2].description] }),
            note: "Cohort cells of fewer than \(minimum) customers are left out of every sum."))
        let mix = try rows("SELECT month, channel, purchases, customers, share FROM channel_mix ORDER BY month, channel")
        let mixMonths = Array(Set(mix.map(\.[0].description))).sorted()
        let channels = Array(Set(mix.map(\.[1].description))).sorted()
        let series = channels.map { channel in
            SVGChart.Series(name: channel, values: mixMonths.map { month in
                mix.first { $0[0].description == month && $0[1].description == channel }?[2].double
            })
        }
        page.sections.append(.init(
            id: "channels", title: "Channel mix",
            chart: mix.isEmpty ? nil : SVGChart.bars(title: "Purchases by channel and month", categories: mixMonths, series: series,
                                                     yLabel: "purchases"),
            table: DataTable(columns: ["month", "channel", "purchases", "customers", "share"], rows: mix.map { $0.map(\.description) })))
    }

    func segments(_ page: inout RenderedPage) throws {
        let sizes = try rows("""
            SELECT s.name, s.description, (SELECT count(*) FROM segment_members m WHERE m.segment = s.name) FROM segments s ORDER BY s.name
            """)
        // segment_members holds only segments of at least k people: an empty one may be small, not empty.
        let values = sizes.map { drawn($0[2]) }
        page.sections.append(.init(
            id: "sizes", title: "Segment sizes",
            chart: sizes.isEmpty ? nil : SVGChart.bars(title: "Segment sizes (this build)", categories: sizes.map(\.[0].description),
                                                       series: [.init(name: "people", values: values)], yLabel: "people"),
            table: DataTable(columns: ["segment", "people", "description"], rows: zip(sizes, values).map { row, value in
                [row[0].description, value.map { String(Int($0)) } ?? withheld, row[1].description]
            })))
        // One point per build; a segment below k at a build has no point there.
        let history = reader.hasTable("segment_history") ? try rows("SELECT built, segment, people FROM segment_history ORDER BY built, segment") : []
        let builds = Array(Set(history.map(\.[0].description))).sorted()
        let names = Array(Set(history.map(\.[1].description))).sorted()
        page.sections.append(.init(
            id: "history", title: "Segment sizes over time",
            chart: builds.count < 2 ? nil : SVGChart.lines(title: "Segment sizes by build", xLabels: builds, series: names.map { name in
                .init(name: name, values: builds.map { built in
                    drawn(history.first { $0[0].description == built && $0[1].description == name }?[2])
                })
            }, yLabel: "people"),
            table: DataTable(columns: ["built", "segment", "people"], rows: history.map { row in
                [row[0].description, row[1].description, drawn(row[2]) == nil ? withheld : row[2].description]
            }),
            note: builds.count < 2 ? "One point per `coffer project build`: the chart appears from the second build on." : nil))
    }

    func value(_ page: inout RenderedPage) throws {
        let fields = try columns()
        if fields.contains("rfm_recency"), fields.contains("rfm_frequency") {
            let grid = try rows("""
                SELECT rfm_recency, rfm_frequency, count(*) FROM single_view WHERE rfm_recency IS NOT NULL AND rfm_frequency IS NOT NULL
                GROUP BY 1, 2 ORDER BY 1, 2
                """)
            let cell: (Int, Int) -> Double? = { r, f in
                self.drawn(grid.first { $0[0].double == Double(r) && $0[1].double == Double(f) }?[2])
            }
            page.sections.append(.init(
                id: "rfm", title: "RFM grid",
                chart: SVGChart.heatMap(title: "Customers by recency (rows) and frequency (columns) score",
                                        rows: (1...5).reversed().map { "R \($0)" }, columns: (1...5).map { "F \($0)" },
                                        values: (1...5).reversed().map { r in (1...5).map { f in cell(r, f) } }, valueLabel: "customers"),
                table: DataTable(columns: ["rfm_recency", "rfm_frequency", "customers"], rows: grid.map { row in
                    [row[0].description, row[1].description, count(Int(row[2].double ?? 0))]
                })))
        }
        for (field, title, edges, unit) in [("clv_12m", "Customer value over the next 12 months", [0.0, 10, 25, 50, 100, 200, 400], "currency"),
                                             ("p_alive", "Probability a customer is still active", [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0001], "probability")]
        where fields.contains(field) {
            let values = try rows("SELECT \(field) FROM single_view WHERE \(field) IS NOT NULL").compactMap(\.[0].double)
            var counts = [Int](repeating: 0, count: edges.count)
            for value in values {
                let bin = edges.lastIndex { value >= $0 } ?? 0
                counts[bin] += 1
            }
            // SVGChart.number writes p_alive's top edge 1.0001 (which holds p_alive = 1 in the last bin) as 1.
            let labels = edges.indices.map { index in
                index + 1 < edges.count ? "\(SVGChart.number(edges[index]))–\(SVGChart.number(edges[index + 1]))"
                    : "\(SVGChart.number(edges[index])) +"
            }
            let shown = field == "p_alive" ? Array(labels.prefix(edges.count - 1)) : labels
            let used = Array(counts.prefix(shown.count))
            page.sections.append(.init(
                id: field, title: title,
                chart: SVGChart.bars(title: title, categories: shown, series: [.init(name: "customers", values: used.map {
                    $0 >= minimum ? Double($0) : nil })], yLabel: "customers", xLabel: "\(field) (\(unit))"),
                table: DataTable(columns: [field, "customers"], rows: zip(shown, used).map { [$0, count($1)] })))
        }
        if fields.contains("rfm_segment") {
            let named = try rows("""
                SELECT rfm_segment, count(*), round(avg(clv_12m), 2), round(avg(p_alive), 3) FROM single_view
                WHERE rfm_segment IS NOT NULL GROUP BY 1 ORDER BY 2 DESC
                """)
            page.sections.append(.init(
                id: "rfm-segments", title: "RFM segments",
                chart: SVGChart.bars(title: "Customers per RFM segment", categories: named.map(\.[0].description),
                                     series: [.init(name: "customers", values: named.map { drawn($0[1]) })],
                                     yLabel: "customers"),
                table: DataTable(columns: ["rfm_segment", "customers", "avg clv_12m", "avg p_alive"], rows: named.map { row in
                    let small = drawn(row[1]) == nil
                    return [row[0].description, small ? withheld : row[1].description, small ? withheld : row[2].description,
                            small ? withheld : row[3].description]
                })))
        }
    }

    func cohorts(_ page: inout RenderedPage) throws {
        let cells = try rows("SELECT cohort, months_since, cohort_size, customers, retention, revenue FROM cohorts ORDER BY cohort, months_since")
        let cohorts = Array(Set(cells.map(\.[0].description))).sorted()
        let offsets = (cells.compactMap(\.[1].double).max()).map { Array(0...Int($0)) } ?? []
        page.sections.append(.init(
            id: "retention", title: "Cohort retention",
            chart: cells.isEmpty ? nil : SVGChart.heatMap(
                title: "Share of each month's new customers who bought again, by months since", rows: cohorts,
                columns: offsets.map(String.init), values: cohorts.map { cohort in
                    offsets.map { offset in cells.first { $0[0].description == cohort && $0[1].double == Double(offset) }?[4].double }
                }, valueLabel: "retention"),
            table: DataTable(columns: ["cohort", "months_since", "cohort_size", "customers", "retention", "revenue"],
                             rows: cells.map { $0.map(\.description) }),
            note: "A cell of fewer than \(minimum) customers is not in the projection (hatched)."))
    }

    func hours(_ page: inout RenderedPage) throws {
        let cells = try rows("SELECT weekday, hour, purchases, customers FROM purchase_hours")
        let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        let hours = Array(Set(cells.compactMap { $0[1].double.map(Int.init) })).sorted()
        let span = hours.isEmpty ? [] : Array(hours.first!...hours.last!)
        page.sections.append(.init(
            id: "weekday-hour", title: "Purchases by weekday and hour",
            chart: cells.isEmpty ? nil : SVGChart.heatMap(
                title: "Purchases by weekday and hour (shop time)", rows: days, columns: span.map { String(format: "%02d", $0) },
                values: days.map { day in span.map { hour in cells.first { $0[0].description == day && $0[1].double == Double(hour) }?[2].double } },
                valueLabel: "purchases"),
            table: DataTable(columns: ["weekday", "hour", "purchases", "customers"], rows: cells.sorted {
                (days.firstIndex(of: $0[0].description) ?? 7, $0[1].double ?? 0) < (days.firstIndex(of: $1[0].description) ?? 7, $1[1].double ?? 0)
            }.map { $0.map(\.description) })))
    }

    func affinity(_ page: inout RenderedPage) throws {
        guard reader.hasTable("product_affinity") else {
            page.notice = "Product affinity is computed only for the policy's recommendations purpose; this projection (\(reader.purpose)) has none."
            return
        }
        let rules = try rows("""
            SELECT item, other, baskets, customers, round(support, 4), round(confidence, 4), round(lift, 3) FROM product_affinity
            WHERE lift > 1 ORDER BY confidence DESC, lift DESC LIMIT 15
            """)
        page.sections.append(.init(
            id: "pairs", title: "Bought together",
            chart: rules.isEmpty ? nil : SVGChart.bars(title: "Who buys the first also buys the second (confidence)",
                                                       categories: rules.map { "\($0[0]) → \($0[1])" },
                                                       series: [.init(name: "confidence", values: rules.map(\.[5].double))], yLabel: "confidence"),
            table: DataTable(columns: ["item", "also buys", "baskets", "customers", "support", "confidence", "lift"],
                             rows: rules.map { $0.map(\.description) }),
            note: "Pairs bought by fewer than \(minimum) customers are not in the projection."))
    }

    func campaigns(_ page: inout RenderedPage) throws {
        guard reader.hasTable("campaign_results") else {
            page.notice = "Campaign results are written into the activation purpose's projection by `coffer project build`; "
                + "this projection (\(reader.purpose)) has none."
            return
        }
        let rows = try rows("""
            SELECT campaign, grp, window_start, window_end, members, sent, delivered, opened, clicked, conversions, conversion_rate,
                   revenue_per_member, conversion_uplift, conversion_ci_low, conversion_ci_high, revenue_uplift, revenue_ci_low, revenue_ci_high
            FROM campaign_results ORDER BY window_start, campaign, grp = 'holdout', grp
            """)
        let names = rows.map(\.[0].description).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        page.figures = [.init(label: "campaigns measured", value: String(names.count))]
        func cell(_ value: Cell) -> String {
            switch value {
            case .null: return withheld
            case let .real(number): return String(format: "%.4f", number)
            default: return value.description
            }
        }
        func percent(_ value: Cell) -> String { value.double.map { String(format: "%+.1f", $0 * 100) } ?? "" }
        // The uplift in conversion of each variant, with its 95 % interval as the table gives it.
        let variants = rows.filter { $0[1].description != "holdout" && $0[12] != .null }
        page.sections.append(.init(
            id: "uplift", title: "Uplift in conversion against the holdout",
            chart: variants.isEmpty ? nil : SVGChart.intervals(
                title: "Conversion uplift against the holdout, with 95 % intervals (percentage points)",
                categories: variants.map { "\($0[0].description.replacingOccurrences(of: "demo-", with: "")) \($0[1])" },
                estimates: variants.map { ($0[12].double ?? 0) * 100 }, lows: variants.map { ($0[13].double ?? 0) * 100 },
                highs: variants.map { ($0[14].double ?? 0) * 100 }, yLabel: "points"),
            table: DataTable(columns: ["campaign", "variant", "uplift (points)", "95 % low", "95 % high", "revenue uplift", "95 % low", "95 % high"],
                             rows: variants.map { [$0[0].description, $0[1].description, percent($0[12]), percent($0[13]), percent($0[14]),
                                                   cell($0[15]), cell($0[16]), cell($0[17])] }),
            note: "Green: the whole interval is above zero; red: below; blue: it includes zero. Groups below \(minimum) people show no uplift."))
        page.sections.append(.init(
            id: "groups", title: "Reach and conversions per group", chart: nil,
            table: DataTable(columns: ["campaign", "group", "from", "to", "members", "sent", "delivered", "opened", "clicked", "conversions",
                                       "conversion rate", "revenue per member"],
                             rows: rows.map { row in [row[0].description, row[1].description, String(row[2].description.prefix(10)),
                                                      String(row[3].description.prefix(10))] + row[4...11].map(cell) })))
    }
}
