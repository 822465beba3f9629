#if canImport(Glibc)
import Glibc
#endif

/// The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting
/// your customers the easy way"): while alive, a customer buys at a Poisson
/// rate λ ~ Gamma(r, α); after each purchase they drop out with probability
/// p ~ Beta(a, b).
package struct BGNBD: Sendable, Equatable {
    package var r: Double
    package var alpha: Double
    package var a: Double
    package var b: Double

    package init(r: Double, alpha: Double, a: Double, b: Double) {
        self.r = r
        self.alpha = alpha
        self.a = a
        self.b = b
    }

    package typealias Fit = ModelFit<BGNBD>

    /// The maximum-likelihood parameters for `histories` (eq. 6 of the paper, summed).
    package static func fit(_ histories: [PurchaseHistory]) -> Fit {
        let data = GroupedHistories(histories)
        return .maximise(parameters: 4, model: { BGNBD(r: $0[0], alpha: $0[1], a: $0[2], b: $0[3]) }, logLikelihood: data.logLikelihood)
    }

    /// The log-likelihood of one customer's history (eq. 6).
    package func logLikelihood(_ history: PurchaseHistory) -> Double {
        let x = Double(history.repeatPurchases)
        let common = SpecialFunctions.logGamma(r + x) - SpecialFunctions.logGamma(r) + r * log(alpha)
            + SpecialFunctions.logBeta(a, b + x) - SpecialFunctions.logBeta(a, b)
        let stillAlive = -(r + x) * log(alpha + history.age)
        guard history.repeatPurchases > 0 else { return common + stillAlive }
        let droppedOut = log(a) - log(b + x - 1) - (r + x) * log(alpha + history.recency)
        return common + SpecialFunctions.logAddExp(stillAlive, droppedOut)
    }

    /// The probability that the customer is still alive at the end of their history (eq. 13).
    package func probabilityAlive(_ history: PurchaseHistory) -> Double {
        guard history.repeatPurchases > 0 else { return 1 }
        let x = Double(history.repeatPurchases)
        let ratio = a / (b + x - 1) * exp((r + x) * log((alpha + history.age) / (alpha + history.recency)))
        return 1 / (1 + ratio)
    }

    /// Expected purchases in the next `horizon` time units, given the history (eq. 10);
    /// nil where the formula is undefined (a = 1, or a + b + x ≤ 1).
    package func expectedPurchases(in horizon: Double, given history: PurchaseHistory) -> Double? {
        let x = Double(history.repeatPurchases), age = history.age
        let z = horizon / (alpha + age + horizon)
        guard a != 1, let f = SpecialFunctions.hypergeometric2F1(r + x, b + x, a + b + x - 1, z) else { return nil }
        let numerator = (a + b + x - 1) / (a - 1) * (1 - exp((r + x) * log((alpha + age) / (alpha + age + horizon))) * f)
        let denominator = 1 + (history.repeatPurchases > 0
            ? a / (b + x - 1) * exp((r + x) * log((alpha + age) / (alpha + history.recency))) : 0)
        return numerator / denominator
    }

    /// Expected purchases of a new customer in their first `horizon` time units (eq. 9).
    package func expectedPurchases(in horizon: Double) -> Double? {
        let z = horizon / (alpha + horizon)
        guard a != 1, let f = SpecialFunctions.hypergeometric2F1(r, b, a + b - 1, z) else { return nil }
        return (a + b - 1) / (a - 1) * (1 - exp(r * log(alpha / (alpha + horizon))) * f)
    }
}

/// Histories grouped for a fast likelihood: customers with the same (x, tₓ, T)
/// count once with their multiplicity, and at each step of the search the
/// terms that depend on x alone are computed once per distinct x, and the
/// logarithms of α + T and α + tₓ once per distinct T and tₓ (days: a few hundred).
package struct GroupedHistories {
    /// Distinct repeat-purchase counts, ages (T) and recencies (tₓ).
    let counts: [Double]
    let ages: [Double]
    let recencies: [Double]
    /// Each distinct history: indices into those three, and how many customers share it.
    package let groups: [(x: Int, recency: Int, age: Int, customers: Double)]

    package init(_ histories: [PurchaseHistory]) {
        var multiplicity: [PurchaseHistory: Int] = [:]
        for history in histories {
            multiplicity[PurchaseHistory(repeatPurchases: history.repeatPurchases, recency: history.recency, age: history.age), default: 0] += 1
        }
        func indexed<T: Hashable & Comparable>(_ values: Set<T>) -> ([T], [T: Int]) {
            let sorted = values.sorted()
            return (sorted, Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) }))
        }
        let (counts, countIndex) = indexed(Set(histories.map(\.repeatPurchases)))
        let (ages, ageIndex) = indexed(Set(histories.map(\.age)))
        let (recencies, recencyIndex) = indexed(Set(histories.map(\.recency)))
        self.counts = counts.map(Double.init)
        self.ages = ages
        self.recencies = recencies
        groups = multiplicity.map { history, customers in
            (countIndex[history.repeatPurchases]!, recencyIndex[history.recency]!, ageIndex[history.age]!, Double(customers))
        }.sorted { ($0.x, $0.recency, $0.age) < ($1.x, $1.recency, $1.age) }
    }

    /// The sum over every customer of `BGNBD.logLikelihood`.
    package func logLikelihood(_ model: BGNBD) -> Double {
        let (r, alpha, a, b) = (model.r, model.alpha, model.a, model.b)
        let base = -SpecialFunctions.logGamma(r) + r * log(alpha) - SpecialFunctions.logBeta(a, b)
        let perCount = counts.map { x in
            (common: base + SpecialFunctions.logGamma(r + x) + SpecialFunctions.logBeta(a, b + x),
             dropOut: x > 0 ? log(a) - log(b + x - 1) : 0, shape: r + x, repeats: x > 0)
        }
        let logAge = ages.map { log(alpha + $0) }, logRecency = recencies.map { log(alpha + $0) }
        var total = 0.0
        for group in groups {
            let terms = perCount[group.x]
            let stillAlive = -terms.shape * logAge[group.age]
            let value = terms.repeats
                ? SpecialFunctions.logAddExp(stillAlive, terms.dropOut - terms.shape * logRecency[group.recency])
                : stillAlive
            total += group.customers * (terms.common + value)
        }
        return total
    }
}
