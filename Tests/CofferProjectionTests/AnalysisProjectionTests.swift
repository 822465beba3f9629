import CofferAnalysis
import CofferFormats
import CofferIngest
@testable import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import Testing
import CofferTestSupport

/// Issue 19: the analysis inside `project build`: RFM and purchase-model
/// columns, the pattern tables with the minimum group size on every cell, and
/// recommendations only under the personalisation consent.
struct AnalysisProjectionTests {
    /// 60 café customers who consent to personalisation: even ones buy a flat white
    /// and a croissant (every fourth adds a granola bowl), odd ones an espresso and banana bread.
    static func cafe() -> String {
        var lines: [String] = []
        let start = Timestamp.parse("2025-03-10T08:00:00Z")!
        for customer in 0..<60 {
            let user = "c\(customer)"
            lines.append(#"{"type":"track","event":"Consent Updated","userId":"\#(user)","timestamp":"2025-03-01T00:00:00Z","context":{"consent":{"categoryPreferences":{"personalisation":true}}}}"#)
            var items = customer % 2 == 0 ? [("Flat White", "coffee", 3.4), ("Croissant", "pastries", 2.6)]
                                          : [("Espresso", "coffee", 2.2), ("Banana Bread", "pastries", 3.1)]
            if customer % 4 == 0 { items.append(("Granola Bowl", "lunch", 6.5)) }
            let products = items.map { #"{"product_id":"\#($0.0.lowercased())","name":"\#($0.0)","category":"\#($0.1)","price":\#($0.2),"quantity":1}"# }
            let revenue = items.reduce(0) { $0 + $1.2 }
            for purchase in 0..<(1 + customer % 7) {
                let time = start + Int64(customer * 3 + purchase * (20 + customer % 5)) * 86_400_000 + Int64(customer % 3) * 3_600_000
                // Case differs on purpose: names are matched without case.
                let name = purchase % 2 == 0 ? "Order Completed" : "order completed"
                lines.append(#"{"type":"track","event":"\#(name)","userId":"\#(user)","timestamp":"\#(Timestamp.format(time))","properties":{"order_id":"\#(user)-\#(purchase)","revenue":\#(revenue),"channel":"\#(purchase % 3 == 0 ? "in-store" : "online")","products":[\#(products.joined(separator: ","))]}}"#)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("buyers get RFM scores, model forecasts and a churn band; the file documents every column's unit; the fit is recorded")
    func scoresAndForecasts() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest(Self.cafe())
        let report = try fixture.build()
        #expect(report.timings.analysis >= 0)
        let reader = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "analytics", action: .query)
        let scored = try reader.query("""
            SELECT count(*), min(rfm_recency), max(rfm_recency), min(p_alive), max(p_alive), count(DISTINCT rfm_segment),
                   min(clv_12m), count(churn_risk) FROM single_view WHERE shop_times > 0
            """).rows[0]
        #expect(scored[0] == .integer(62), "the 60 café customers, Ann and Bo")
        #expect(scored[1] == .integer(1) && scored[2] == .integer(5))
        #expect((scored[3].double ?? -1) >= 0 && (scored[4].double ?? 2) <= 1)
        #expect((scored[5].double ?? 0) >= 3, "several named segments")
        #expect((scored[6].double ?? -1) >= 0)
        #expect(scored[7] == .integer(62), "every buyer has a churn band")
        let units = try reader.query("SELECT name, unit FROM columns WHERE name IN ('frequency', 'recency', 'total_spend', 'p_alive') ORDER BY name")
        #expect(units.rows == [[.text("frequency"), .text("per month")], [.text("p_alive"), .text("probability")],
                               [.text("recency"), .text("days")], [.text("total_spend"), .text("currency")]])
        let fit = try reader.query("SELECT value FROM projection_info WHERE key = 'bgnbd'").rows
        #expect(fit.first?.first?.description.hasPrefix("r=") == true)
        #expect(throws: (any Error).self, "product affinity is only in the recommendations purpose's files") {
            try reader.query("SELECT * FROM product_affinity")
        }
        #expect(try reader.query("SELECT * FROM single_view LIMIT 0").columns.contains("recommended_items") == false)
    }

    @Test("no cell of any pattern table, in any file, counts fewer people than the minimum group size")
    func smallCells() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest(Self.cafe())
        _ = try fixture.build()
        let analyst = try fixture.analyst()
        let minimum = fixture.policy.minimumGroupSize
        var checked = 0
        for (vault, purpose) in [(fixture.owner, "analytics"), (fixture.owner, "support"), (analyst, "analytics"), (analyst, "personalisation")] {
            let reader = try ProjectionReader(vault: vault, policy: fixture.policy, purpose: purpose, action: .query)
            for table in ["cohorts", "purchase_hours", "channel_mix", "basket_sizes", "category_mix"] + (purpose == "personalisation" ? ["product_affinity"] : []) {
                let rows = try reader.query("SELECT count(*), min(customers) FROM \(table)").rows[0]
                #expect((rows[1].double ?? Double(minimum)) >= Double(minimum), "\(table) of \(purpose)")
                checked += Int(rows[0].double ?? 0)
            }
            let info = try reader.query("SELECT value FROM projection_info WHERE key = 'small_cells_suppressed'").rows
            #expect((info.first?.first?.double ?? 0) > 0, "some cells were too small and left out (\(purpose))")
        }
        #expect(checked > 0)
        let reader = try ProjectionReader(vault: analyst, policy: fixture.policy, purpose: "personalisation", action: .query)
        let mix = try reader.query("SELECT category, items, baskets FROM category_mix ORDER BY category").rows
        #expect(mix.map { $0[0] } == [.text("coffee"), .text("lunch"), .text("pastries")])
        // Shares are of the cells shown: a left-out cell cannot be worked out as 1 minus the others.
        for sums in try reader.query("SELECT sum(share) FROM channel_mix GROUP BY month").rows + reader.query("SELECT sum(share) FROM category_mix").rows {
            #expect(abs((sums[0].double ?? 0) - 1) < 0.001)
        }
    }

    @Test("recommendations go to consenting people in the personalisation file only, and a withdrawal takes them away")
    func recommendations() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest(Self.cafe())
        _ = try fixture.build()
        let analyst = try fixture.analyst()
        func granola() throws -> Int {
            let reader = try ProjectionReader(vault: analyst, policy: fixture.policy, purpose: "personalisation", action: .query)
            return Int(try reader.query("SELECT count(*) FROM single_view WHERE recommended_items = 'Granola Bowl'").rows[0][0].double ?? -1)
        }
        // Flat-white buyers without the granola bowl (c2, c6, … c58) get it: lift 2 from the flat white.
        #expect(try granola() == 15)
        let reader = try ProjectionReader(vault: analyst, policy: fixture.policy, purpose: "personalisation", action: .query)
        let lift = try reader.query("SELECT lift, customers FROM product_affinity WHERE item = 'Flat White' AND other = 'Granola Bowl'").rows
        #expect((lift.first?[0].double ?? 0) > 1.9 && lift.first?[1] == .integer(15))
        #expect(try reader.query("SELECT count(*) FROM single_view WHERE recommended_items IS NOT NULL AND recommended_items LIKE '%Espresso%'")
            .rows[0][0] == .integer(0), "nothing co-occurs across the two groups")

        let report = try Ingestor(vault: fixture.owner, policy: fixture.policy).ingest(path: {
            let path = fixture.directory.appendingPathComponent("withdraw.jsonl")
            try #"{"type":"track","event":"Consent Updated","userId":"c2","timestamp":"2026-03-01T00:00:00Z","context":{"consent":{"categoryPreferences":{"personalisation":false}}}}"#
                .write(to: path, atomically: true, encoding: .utf8)
            return path.path
        }())
        try ConsentEffects.apply(report.withdrawals, vault: fixture.owner, policy: fixture.policy)
        #expect(try granola() == 14, "c2's recommendations left with their row, before any rebuild")
        _ = try fixture.build()
        #expect(try granola() == 14, "and stay out after it")
    }

    @Test("purchase events are the policy's, matched without case; hours are counted in the policy's zone across summer time")
    func purchaseEventsAndZone() throws {
        let events = TrackEvents(purchases: ["Purchase"], refunds: ["Return"])
        #expect(events.meaning(of: "purchase") == .order && events.meaning(of: "PURCHASE") == .order)
        #expect(events.meaning(of: "Order Completed") == nil, "the policy's list replaces the default")
        #expect(events.meaning(of: "return") == .refund)
        var aggregate = CustomerAggregate()
        let rules = FoldRules(cutoffs: nil, events: events, zone: TimeZone(identifier: "Europe/London")!)
        for line in [#"{"event":"purchase","timestamp":"2026-07-01T09:30:00Z","properties":{"revenue":5,"cart_size":"L"}}"#,
                     #"{"event":"Purchase","timestamp":"2026-01-07T09:30:00Z","properties":{"revenue":4,"products":[{"sku":"B1","quantity":2},{"name":"Cake"}]}}"#,
                     #"{"event":"Order Completed","timestamp":"2026-01-08T09:30:00Z","properties":{"revenue":9}}"#] {
            aggregate.fold(kind: .track, payload: try #require(PayloadFields.scan(Array(line.utf8))), rules: rules)
        }
        #expect(aggregate.purchases == 2 && aggregate.totalSpend == 9)
        // Wednesday 10:30 in London's summer (UTC+1), Wednesday 09:30 in its winter.
        let hours: [UInt8] = aggregate.detail.hours.entries.map(\.key), wednesday: UInt8 = 2 * 24
        #expect(hours == [wednesday + 9, wednesday + 10])
        #expect(aggregate.detail.sizes.entries.map(\.key) == ["3", "L"], "two of B1 and a cake; the till's own L")
        #expect(aggregate.detail.itemsBought == ["B1", "Cake"])

        let text = try String(contentsOfFile: ScratchVault.defaultPolicyPath, encoding: .utf8)
            .replacingOccurrences(of: "purchase_events: [Order Completed]", with: "purchase_events: [Purchase, Order Completed]")
        let policy = try PolicyLoader.parse(text, file: "p.yaml")
        #expect(policy.analysis.purchaseEvents == ["Purchase", "Order Completed"])
        #expect(policy.analysis.recommendationsPurpose == "personalisation")
        for (bad, message) in [("recommendations_purpose: personalisation", "recommendations_purpose: analytics"),
                               ("time_zone: Europe/London", "time_zone: Mars/Olympus"),
                               ("annual_discount_rate: 0.10", "annual_discount_rate: 2")] {
            #expect(throws: PolicyError.self, "\(message)") {
                try PolicyLoader.parse(text.replacingOccurrences(of: bad, with: message), file: "p.yaml")
            }
        }
    }
}

/// Time-window segments: "ordered online in the last 30 days" over the days_since_… columns.
struct TimeWindowSegmentTests {
    @Test("days_since_… columns count whole days to the build; a window rule matches inside it and not outside; never is no match")
    func windows() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest(#"{"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-02-25T10:00:00Z","properties":{"revenue":4,"channel":"online"}}"# + "\n")
        let people = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: []).aggregates(now: fixture.now).people
        let rows = people.map { SingleView.row($0.value, subject: $0.key, now: fixture.now, consents: []) }
        let names = SingleViewColumn.names
        func rowOf(_ user: String) throws -> [String: Cell] {
            let row = try #require(rows.first { $0[0] == .text(user) })
            return Dictionary(uniqueKeysWithValues: zip(names, row))
        }
        let ann = try rowOf("u1"), bo = try rowOf("u2"), cy = try rowOf("u3")
        #expect(ann["days_since_email_open"] == .integer(21), "opened 2026-02-08T10:00Z, built 2026-03-02T09:00Z")
        #expect(ann["days_since_online_order"] == .integer(60) && ann["days_since_instore_order"] == .integer(30))
        #expect(bo["days_since_online_order"] == .integer(4))
        #expect(cy["days_since_email_open"] == .null)
        let rule = try SegmentRule.parse("days_since_online_order <= 30", knownFields: Set(names))
        let promo = try SegmentRule.parse("days_since_email_open <= 14", knownFields: Set(names))
        #expect(rule.matches(bo, currentMonth: 3) && !rule.matches(ann, currentMonth: 3) && !rule.matches(cy, currentMonth: 3))
        #expect(!promo.matches(ann, currentMonth: 3) && !promo.matches(cy, currentMonth: 3))
        #expect(try SegmentRule.parse("days_since_email_open <= 21", knownFields: Set(names)).matches(ann, currentMonth: 3))
    }
}

/// The analysis stays incremental: a build from the saved state, or from several
/// log ranges read at once, writes the same files as one full read.
struct IncrementalAnalysisTests {
    @Test("after half the café's events and a build, the other half's incremental build equals full builds, in one part or three")
    func incrementalEqualsFull() throws {
        let fixture = try ProjectionFixture()
        let lines = AnalysisProjectionTests.cafe().split(separator: "\n")
        try fixture.ingest(lines[..<(lines.count / 2)].joined(separator: "\n") + "\n")
        _ = try fixture.build()
        try fixture.ingest(lines[(lines.count / 2)...].joined(separator: "\n") + "\n")
        let incremental = try fixture.build()
        #expect(incremental.startSeq > 0)
        let analyst = try fixture.analyst()
        let tables = ["single_view", "cohorts", "purchase_hours", "channel_mix", "basket_sizes", "category_mix"]
        func snapshot() throws -> [String: [[Cell]]] {
            var all: [String: [[Cell]]] = [:]
            for (vault, purpose) in [(fixture.owner, "support"), (analyst, "personalisation")] {
                let reader = try ProjectionReader(vault: vault, policy: fixture.policy, purpose: purpose, action: .query)
                for table in tables + (purpose == "personalisation" ? ["product_affinity"] : []) {
                    all["\(purpose).\(table)"] = try reader.query("SELECT * FROM \(table) ORDER BY 1, 2").rows
                }
            }
            return all
        }
        let fromState = try snapshot()
        #expect((fromState["support.single_view"]?.count ?? 0) == 63 && (fromState["personalisation.product_affinity"]?.count ?? 0) > 0)
        for parts in [1, 3] {
            let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
            builder.incremental = false
            builder.scanParts = parts
            builder.readSplit = .logRanges
            _ = try builder.build(now: fixture.now)
            let full = try snapshot()
            for (table, rows) in fromState { #expect(full[table] == rows, "\(table), \(parts) part(s)") }
        }
    }
}
