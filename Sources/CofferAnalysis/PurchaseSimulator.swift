import CofferFormats
#if canImport(Glibc)
import Glibc
#endif

/// Customers drawn from known BG/NBD and Gamma-Gamma parameters, from a seed:
/// what a parameter-recovery test fits, and what `bench` times the fit on.
package struct PurchaseSimulator {
    private var random: SeededGenerator

    package init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// `customers` histories observed for `age` time units each (BG/NBD's generative story:
    /// a Poisson rate λ ~ Gamma(r, α), a drop-out probability p ~ Beta(a, b) tried after each
    /// repeat purchase), each purchase worth Gamma(p, ν) with ν ~ Gamma(q, γ).
    package mutating func histories(_ customers: Int, age: Double, purchases: BGNBD, spend: GammaGamma) -> [PurchaseHistory] {
        histories(customers, ages: age...age, wholeUnits: false, purchases: purchases, spend: spend)
    }

    /// As above, each customer observed for an age drawn uniformly from `ages`; with
    /// `wholeUnits`, times are counted in whole units as real data are (days since the first
    /// purchase), and purchases on the same unit count once.
    package mutating func histories(_ customers: Int, ages: ClosedRange<Double>, wholeUnits: Bool, purchases: BGNBD,
                                    spend: GammaGamma) -> [PurchaseHistory] {
        (0..<customers).map { _ in
            var age = ages.lowerBound + uniform() * (ages.upperBound - ages.lowerBound)
            if wholeUnits { age = age.rounded(.down) }
            let rate = gamma(shape: purchases.r) / purchases.alpha
            let dropOut = beta(purchases.a, purchases.b)
            let spendRate = gamma(shape: spend.q) / spend.gamma
            var time = 0.0, repeats = 0, last = 0.0, total = 0.0
            while true {
                let previous = time
                time += -log(1 - uniform()) / rate
                guard time <= age else { break }
                if wholeUnits, time.rounded(.down) == previous.rounded(.down) { continue }   // the same day: one purchase
                repeats += 1
                last = time
                total += gamma(shape: spend.p) / spendRate
                if uniform() < dropOut { break }
            }
            if wholeUnits { last = last.rounded(.down) }
            return PurchaseHistory(repeatPurchases: repeats, recency: last, age: age, meanSpend: repeats > 0 ? total / Double(repeats) : 0)
        }
    }

    /// Uniform in [0, 1).
    private mutating func uniform() -> Double { Double(random.next() >> 11) * 0x1p-53 }

    /// A standard normal draw (Box–Muller).
    private mutating func normal() -> Double {
        sqrt(-2 * log(1 - uniform())) * cos(2 * .pi * uniform())
    }

    /// Gamma(shape, 1) (Marsaglia & Tsang 2000; shape < 1 through Gamma(shape + 1)·U^(1/shape)).
    private mutating func gamma(shape: Double) -> Double {
        if shape < 1 { return gamma(shape: shape + 1) * pow(1 - uniform(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / sqrt(9 * d)
        while true {
            let z = normal(), v = pow(1 + c * z, 3)
            guard v > 0 else { continue }
            if log(1 - uniform()) < 0.5 * z * z + d - d * v + d * log(v) { return d * v }
        }
    }

    private mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(shape: a)
        return x / (x + gamma(shape: b))
    }
}
