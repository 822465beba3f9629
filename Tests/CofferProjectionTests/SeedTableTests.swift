import CofferFormats
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import Testing
import CofferTestSupport

/// Issue 19: the seed's table 1 imports with the shipped mapping, unedited, and
/// gives the single view computed by hand (Tests/Fixtures/seed/README.md).
struct SeedTableTests {
    @Test("the seed's till table imports with examples/seed-table1-mapping.yaml and gives the hand-computed single view")
    func seedTableOne() throws {
        let fixture = try ProjectionFixture()
        let mappingPath = ScratchVault.repository.appendingPathComponent("examples/seed-table1-mapping.yaml").path
        let mapping = try CSVMapping.load(path: mappingPath)
        let ingestor = try Ingestor(vault: fixture.owner, policy: fixture.policy)
        ingestor.clock = { fixture.now }   // the events' ages are counted from the build's "now"
        let report = try ingestor.ingest(path: ScratchVault.repository.appendingPathComponent("Tests/Fixtures/seed/table1.csv").path,
                                         mapping: mapping, mappingPath: mappingPath)
        #expect(report.accepted == 6 && report.quarantined == 0, "\(report)")
        _ = try fixture.build()
        let rows = try fixture.rows("support", as: fixture.owner)
        func row(_ id: String) throws -> [String: Cell] { try #require(rows.first { $0["customer_id"] == .text(id) }) }

        let s1 = try row("S1")
        #expect(s1["age"] == .integer(34) && s1["gender"] == .text("female"))
        #expect(s1["total_spend"] == .real(28) && s1["shop_times"] == .integer(3) && s1["avg_spend"] == .real(9.33))
        // GMT before the clocks went forward on 2025-03-30, BST after: 09:15 local is 09:15Z, then 08:15Z.
        #expect(s1["first_time_shop"] == .text("2025-03-29T09:15:00.000Z"))
        #expect(s1["last_time_shop"] == .text("2026-02-20T17:40:00.000Z"))
        #expect(s1["lifetime"] == .real(328.35) && s1["recency"] == .integer(9))
        #expect(s1["frequency"] == .real(0.25), "3 carts in the 12 months before the build")
        #expect(s1["instore_share"] == .real(1) && s1["online_share"] == .real(0))

        let s2 = try row("S2")
        #expect(s2["gender"] == .text("male") && s2["total_spend"] == .real(25.1) && s2["shop_times"] == .integer(2))
        #expect(s2["frequency"] == .real(0.08), "the 2025-02-24 cart is outside the 12 months: 1 / 12")
        #expect(s2["lifetime"] == .real(314.83) && s2["recency"] == .integer(56))
        #expect(s2["last_time_shop"] == .text("2026-01-05T08:00:00.000Z"), "seconds may be left out")

        let s3 = try row("S3")
        // 01:30 on 2025-10-26 happened twice in London; the first, BST, is 00:30Z.
        #expect(s3["gender"] == .text("female") && s3["first_time_shop"] == .text("2025-10-26T00:30:00.000Z"))

        // The till's L/M/S are kept as categories: the basket_sizes table counts them (all below k=5 here, so none shown).
        let reader = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .query)
        #expect(try reader.query("SELECT count(*) FROM basket_sizes").rows[0][0] == .integer(0))
        let people = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: []).aggregates(now: fixture.now).people
        let sizes = people.values.flatMap { $0.detail.sizes.entries.map(\.key) }
        #expect(Set(sizes) == ["L", "M", "S"])
    }

    @Test("a line-item file: consecutive rows of a cart are one purchase with products[]; a cart met again is refused with the reason")
    func lineItems() throws {
        let fixture = try ProjectionFixture()
        let directory = fixture.directory
        let csv = directory.appendingPathComponent("items.csv"), mappingFile = directory.appendingPathComponent("items.yaml")
        try """
            order,customer,time,item,sku,category,unit_price,qty
            K1,L1,2026-02-01 08:00,Flat White,FW,coffee,3.40,2
            K1,L1,2026-02-01 08:00,Croissant,CR,pastries,2.60,1
            K2,L2,2026-02-01 09:00,"Beans, 250g",BE,beans,9.50,1
            K3,L1,2026-02-02 08:00,Espresso,ES,coffee,x,1
            K2,L2,2026-02-01 09:00,Tote Bag,TB,merchandise,12,1
            """.write(to: csv, atomically: true, encoding: .utf8)
        try """
            type: track
            event: Order Completed
            fields: { userId: customer, messageId: order, timestamp: time }
            properties: { order_id: order }
            line_items: { group_by: order, name: item, sku: sku, category: category, price: unit_price, quantity: qty }
            timezone: Europe/London
            default_channel: in-store
            """.write(to: mappingFile, atomically: true, encoding: .utf8)
        let mapping = try CSVMapping.load(path: mappingFile.path)
        let report = try Ingestor(vault: fixture.owner, policy: fixture.policy).ingest(path: csv.path, mapping: mapping, mappingPath: mappingFile.path)
        #expect(report.accepted == 2 && report.quarantined == 2, "\(report)")
        #expect(report.reasons.keys.contains { $0.contains("must be a number") })
        #expect(report.reasons.keys.contains { $0.contains("appears again after other carts") })
        let people = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: []).aggregates(now: fixture.now).people
        let baskets = people.values.flatMap(\.detail.baskets)
        #expect(baskets.count == 2)
        let first = try #require(baskets.first { $0.items.contains("Flat White") })
        #expect(first.lines.map(\.item) == ["Flat White", "Croissant"] && first.lines.map(\.quantity) == [2, 1])
        #expect(first.lines.compactMap(\.amount) == [6.8, 2.6])
        #expect(people.values.contains { $0.totalSpend == 9.4 }, "revenue is the sum of price × quantity")
        #expect(baskets.contains { $0.items == ["Beans, 250g"] }, "a quoted field with the delimiter in it")
    }
}
