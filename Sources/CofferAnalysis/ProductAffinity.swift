/// Which items are bought together (item-to-item co-occurrence in baskets), and
/// from that, what to suggest to a customer: the `product_affinity` table and
/// `recommended_items`.
package struct ProductAffinity: Sendable {
    /// "Who buys `item` also buys `other`", over all baskets.
    package struct Rule: Sendable, Equatable {
        package var item: String
        package var other: String
        /// Baskets holding both, and the distinct customers whose baskets those are.
        package var baskets: Int
        package var customers: Int
        /// Share of all baskets holding both.
        package var support: Double
        /// Share of the baskets holding `item` that also hold `other`.
        package var confidence: Double
        /// `confidence` over the share of baskets holding `other`: above 1, buying
        /// `item` makes `other` likelier than it is on its own.
        package var lift: Double
    }

    /// The rules, both directions of every pair bought together by at least the
    /// minimum group size of distinct customers (fewer could single them out),
    /// by item then descending lift.
    package var rules: [Rule]

    /// - Parameter baskets: each purchase's customer and the distinct items in it.
    package init(baskets: [(customer: String, items: Set<String>)], minimumGroupSize: Int) {
        var itemBaskets: [String: Int] = [:]
        var pairBaskets: [Pair: Int] = [:], pairCustomers: [Pair: Set<String>] = [:]
        for basket in baskets {
            let items = basket.items.sorted()
            for item in items { itemBaskets[item, default: 0] += 1 }
            for (index, first) in items.enumerated() {
                for second in items[(index + 1)...] {
                    let pair = Pair(first: first, second: second)
                    pairBaskets[pair, default: 0] += 1
                    pairCustomers[pair, default: []].insert(basket.customer)
                }
            }
        }
        let total = Double(baskets.count)
        var rules: [Rule] = []
        for (pair, together) in pairBaskets {
            let customers = pairCustomers[pair]?.count ?? 0
            guard customers >= minimumGroupSize else { continue }
            for (item, other) in [(pair.first, pair.second), (pair.second, pair.first)] {
                let withItem = Double(itemBaskets[item] ?? 0), withOther = Double(itemBaskets[other] ?? 0)
                rules.append(Rule(item: item, other: other, baskets: together, customers: customers,
                                  support: Double(together) / total, confidence: Double(together) / withItem,
                                  lift: Double(together) * total / (withItem * withOther)))
            }
        }
        self.rules = rules.sorted { ($0.item, -$0.lift, $0.other) < ($1.item, -$1.lift, $1.other) }
    }

    /// Up to `limit` items the customer has not bought, best first: each scored by
    /// its highest confidence from an item they have bought (how often the two are
    /// bought together), among rules with a lift above 1 (together more often than
    /// by chance); ties by lift, then name. Confidence first, so a rare item that
    /// happens to sit in a few baskets (a high lift on little evidence) does not
    /// crowd out what people reliably buy together.
    package func recommendations(for bought: Set<String>, limit: Int = 3) -> [String] {
        var best: [String: (confidence: Double, lift: Double)] = [:]
        for rule in rules where bought.contains(rule.item) && !bought.contains(rule.other) && rule.lift > 1 {
            let old = best[rule.other] ?? (0, 0)
            if (rule.confidence, rule.lift) > old { best[rule.other] = (rule.confidence, rule.lift) }
        }
        return best.sorted { ($0.value.confidence, $0.value.lift, $1.key) > ($1.value.confidence, $1.value.lift, $0.key) }
            .prefix(limit).map(\.key)
    }

    private struct Pair: Hashable {
        var first: String
        var second: String
    }
}
