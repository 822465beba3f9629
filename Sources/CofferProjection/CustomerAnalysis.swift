import CofferAnalysis
import CofferPolicy
import CofferStore
import Foundation

/// What a build adds to each person's row from everyone's purchases: RFM
/// scores and segment, the BG/NBD and Gamma-Gamma forecasts (`p_alive`,
/// expected purchases, expected spend, `clv_12m`, churn risk), and item
/// recommendations.
///
/// The models and the RFM quintiles are fitted over everyone the build holds
/// (restricted and erased people are already left out): population parameters,
/// which say nothing about one person. Each person's values then go only into
/// the files their consent or the purpose's lawful basis lets them into.
/// Recommendations are made only for people whose consent to the policy's
/// `recommendations_purpose` is in force, from the baskets of those people alone.
struct CustomerAnalysis: Sendable {
    struct Person: Sendable {
        var rfm: RFM.Score?
        var value: CustomerValue?
        var recommendations: [String]?
    }

    var purchases: BGNBD.Fit?
    var spend: GammaGamma.Fit?
    /// Buyers the models were fitted on.
    var buyers = 0
    /// One entry per person, in the order given.
    var people: [Person]
    /// Item co-occurrence over the consenting people's baskets (nil without a recommendations purpose).
    var affinity: ProductAffinity?

    /// Fewer buyers (or repeat buyers) than this and the models are not fitted: their parameters would be noise.
    static let minimumBuyers = 20
    static let minimumRepeaters = 5

    /// No analysis: `count` people without scores.
    init(skipping count: Int) { people = Array(repeating: Person(), count: count) }

    /// - Parameter recommendable: who may get recommendations (consent in force), nil: nobody.
    init(people: [(key: SubjectID, value: CustomerAggregate)], now: Int64, settings: AnalysisSettings,
         recommendable: Set<SubjectID>?, minimumGroupSize: Int) {
        let today = PurchaseDay.day(of: now)
        var histories: [PurchaseHistory?] = []
        histories.reserveCapacity(people.count)
        var inputs: [RFM.Input] = [], buyerIndex: [Int] = []
        for (index, person) in people.enumerated() {
            let days = person.value.purchaseDays.days.prefix { $0.day <= today }
            guard let first = days.first, let last = days.last else {
                histories.append(nil)
                continue
            }
            let repeats = days.dropFirst()
            let repeatSpend = repeats.reduce(0) { $0 + $1.spend }
            histories.append(PurchaseHistory(repeatPurchases: repeats.count, recency: Double(last.day - first.day),
                                             age: Double(today - first.day),
                                             meanSpend: repeats.isEmpty ? 0 : repeatSpend / Double(repeats.count)))
            let window = person.value.analysisWindow(endingAt: now)
            inputs.append(RFM.Input(recencyDays: Double(today - last.day), frequency: Double(window.reduce(0) { $0 + Int($1.carts) }),
                                    monetary: window.reduce(0) { $0 + $1.spend }))
            buyerIndex.append(index)
        }
        var rows = [Person](repeating: Person(), count: people.count)
        for (score, index) in zip(RFM.scores(inputs), buyerIndex) { rows[index].rfm = score }

        let fitted = histories.compactMap { $0 }
        buyers = fitted.count
        let repeaters = fitted.count(where: \.hasRepeatSpend)
        if fitted.count >= Self.minimumBuyers, repeaters >= Self.minimumRepeaters {
            // The two fits are independent, and each person's value depends on nothing else:
            // both run on two threads (the fits were most of the analysis, one after the other).
            let fits = parallelMap(2) { index -> (purchases: BGNBD.Fit?, spend: GammaGamma.Fit?) in
                index == 0 ? (BGNBD.fit(fitted), nil) : (nil, GammaGamma.fit(fitted))
            }
            if let purchases = try? fits[0].get().purchases, let spend = try? fits[1].get().spend,
               purchases.converged, spend.converged, spend.model.q > 1 {
                self.purchases = purchases
                self.spend = spend
                let monthly = settings.monthlyDiscountRate, all = histories
                let chunk = 16_384, chunks = (all.count + chunk - 1) / chunk
                let values = parallelMap(chunks) { part in
                    all[(part * chunk)..<min((part + 1) * chunk, all.count)].map { history in
                        history.flatMap { CustomerValue(history: $0, unit: .day, purchases: purchases.model, spend: spend.model,
                                                        monthlyDiscount: monthly) }
                    }
                }
                for (part, result) in values.enumerated() {
                    for (offset, value) in ((try? result.get()) ?? []).enumerated() { rows[part * chunk + offset].value = value }
                }
            }
        }

        if let recommendable {
            let baskets = people.enumerated().flatMap { index, person in
                recommendable.contains(person.key)
                    ? person.value.detail.baskets.map { (customer: String(index), items: $0.items) } : []
            }
            let affinity = ProductAffinity(baskets: baskets, minimumGroupSize: minimumGroupSize)
            for (index, person) in people.enumerated() where recommendable.contains(person.key) {
                rows[index].recommendations = affinity.recommendations(for: person.value.detail.itemsBought)
            }
            self.affinity = affinity
        }
        self.people = rows
    }
}
