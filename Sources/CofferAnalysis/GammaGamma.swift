#if canImport(Glibc)
import Glibc
#endif

/// The Gamma-Gamma model of spend per purchase (Fader & Hardie 2013, "The
/// Gamma-Gamma model of monetary value"): a customer's purchases are
/// Gamma(p, ν) with ν ~ Gamma(q, γ), independent of how often they buy.
/// Fitted on customers with at least one repeat purchase.
package struct GammaGamma: Sendable, Equatable {
    package var p: Double
    package var q: Double
    package var gamma: Double

    package init(p: Double, q: Double, gamma: Double) {
        self.p = p
        self.q = q
        self.gamma = gamma
    }

    package typealias Fit = ModelFit<GammaGamma>

    /// The maximum-likelihood parameters over the histories with repeat purchases and a positive mean spend.
    package static func fit(_ histories: [PurchaseHistory]) -> Fit {
        let buyers = Buyers(histories)
        return .maximise(parameters: 3, model: { GammaGamma(p: $0[0], q: $0[1], gamma: $0[2]) }, logLikelihood: buyers.logLikelihood)
    }

    /// The log-likelihood of one customer's mean spend m̄ over x purchases (the
    /// density of m̄ with ν integrated out, up to terms without parameters).
    package func logLikelihood(_ history: PurchaseHistory) -> Double {
        let x = Double(history.repeatPurchases), m = history.meanSpend
        let px = p * x
        return SpecialFunctions.logGamma(px + q) - SpecialFunctions.logGamma(px) - SpecialFunctions.logGamma(q)
            + q * log(gamma) + (px - 1) * log(m) + px * log(x) - (px + q) * log(gamma + m * x)
    }

    /// The expected mean spend of the customer's future purchases (eq. 5): the
    /// population mean pγ/(q − 1) moved toward their own mean by their x purchases.
    package func expectedMeanSpend(_ history: PurchaseHistory) -> Double {
        let x = Double(history.repeatPurchases)
        return p * (gamma + x * history.meanSpend) / (p * x + q - 1)
    }
}

/// The repeat buyers, with what their likelihood needs that no parameter changes
/// (ln m̄, ln x) computed once, and the Γ terms computed once per distinct x at
/// each step of the search.
struct Buyers {
    let counts: [Double]
    let buyers: [(x: Int, spend: Double, logSpend: Double, logCount: Double)]

    init(_ histories: [PurchaseHistory]) {
        let chosen = histories.filter(\.hasRepeatSpend)
        let distinct = Set(chosen.map(\.repeatPurchases)).sorted()
        let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        counts = distinct.map(Double.init)
        buyers = chosen.map { (index[$0.repeatPurchases]!, $0.meanSpend, log($0.meanSpend), log(Double($0.repeatPurchases))) }
    }

    /// The sum over the buyers of `GammaGamma.logLikelihood`.
    func logLikelihood(_ model: GammaGamma) -> Double {
        let (p, q, gamma) = (model.p, model.q, model.gamma)
        let base = -SpecialFunctions.logGamma(q) + q * log(gamma)
        let perCount = counts.map { x in base + SpecialFunctions.logGamma(p * x + q) - SpecialFunctions.logGamma(p * x) }
        var total = 0.0
        for buyer in buyers {
            let x = counts[buyer.x], px = p * x
            total += perCount[buyer.x] + (px - 1) * buyer.logSpend + px * buyer.logCount - (px + q) * log(gamma + buyer.spend * x)
        }
        return total
    }
}
