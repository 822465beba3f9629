@testable import CofferAnalysis
import Testing

/// Issue 19, item 6: item-to-item co-occurrence and recommendations, against a hand-computed fixture.
struct ProductAffinityTests {
    static let baskets: [(customer: String, items: Set<String>)] = [
        ("u1", ["coffee", "croissant"]), ("u2", ["coffee", "croissant"]), ("u3", ["coffee", "muffin"]),
        ("u4", ["tea", "muffin"]), ("u5", ["coffee", "croissant", "juice"]),
    ]

    @Test("with a minimum group size of 2, only coffee and croissant (3 customers) make rules; their figures by hand")
    func handComputed() throws {
        let affinity = ProductAffinity(baskets: Self.baskets, minimumGroupSize: 2)
        // By hand: 5 baskets; coffee in 4, croissant in 3, both in 3 (u1, u2, u5).
        #expect(affinity.rules == [
            .init(item: "coffee", other: "croissant", baskets: 3, customers: 3, support: 0.6, confidence: 0.75, lift: 1.25),
            .init(item: "croissant", other: "coffee", baskets: 3, customers: 3, support: 0.6, confidence: 1, lift: 1.25),
        ])
        #expect(affinity.recommendations(for: ["coffee", "muffin"]) == ["croissant"])
        #expect(affinity.recommendations(for: ["coffee", "croissant"]).isEmpty, "nothing they have not bought")
        #expect(affinity.recommendations(for: ["tea", "muffin"]).isEmpty, "no rule from what they bought")
    }

    @Test("without a minimum, pairs of one customer count; only a lift above 1 is recommended, the highest confidence first")
    func everyPair() {
        let affinity = ProductAffinity(baskets: Self.baskets, minimumGroupSize: 1)
        #expect(affinity.rules.count == 10)   // 5 pairs, both ways
        // muffin → coffee: 1 basket of 5; muffin in 2, coffee in 4: lift 1·5/(2·4) = 0.625, not recommended.
        let rule = affinity.rules.first { $0.item == "muffin" && $0.other == "coffee" }
        #expect(rule?.lift == 0.625)
        #expect(affinity.recommendations(for: ["tea"]) == ["muffin"])   // tea → muffin: 1·5/(1·2) = 2.5
        // croissant → coffee: confidence 3/3, lift 1.25; croissant → juice: confidence 1/3, lift 1·5/(3·1) ≈ 1.67.
        // The surer pairing first.
        #expect(affinity.recommendations(for: ["croissant"]) == ["coffee", "juice"])
    }
}
