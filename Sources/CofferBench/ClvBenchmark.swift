package import CofferAnalysis
import Foundation

/// `coffer bench clv`: BG/NBD and Gamma-Gamma fitted to simulated customers
/// counted in whole days, as a vault's purchases are.
package struct ClvBenchmark {
    package struct Configuration: Sendable {
        package var customers = 100_000
        package var seed: UInt64 = 2026
        package init() {}
    }

    package struct Result: Sendable {
        package var customers: Int
        /// Distinct (x, tₓ, T): what the likelihood is summed over.
        package var groups: Int
        package var purchases: BGNBD.Fit
        package var spend: GammaGamma.Fit
        package var truth: (purchases: BGNBD, spend: GammaGamma)
        package var purchasesSeconds: Double
        package var spendSeconds: Double
        /// One evaluation of the BG/NBD likelihood, grouped (as the fit does) and customer by customer.
        package var groupedEvaluationSeconds: Double
        package var perCustomerEvaluationSeconds: Double
        /// Whether both evaluations gave the same log-likelihood (they must).
        package var likelihoodsAgree: Bool
    }

    package let configuration: Configuration

    package init(configuration: Configuration) { self.configuration = configuration }

    package func run() -> Result {
        let truth = (purchases: BGNBD(r: 0.55, alpha: 40, a: 0.8, b: 2.6), spend: GammaGamma(p: 5, q: 4, gamma: 25))
        var simulator = PurchaseSimulator(seed: configuration.seed)
        let histories = simulator.histories(configuration.customers, ages: 30...730, wholeUnits: true,
                                            purchases: truth.purchases, spend: truth.spend)
        var clock = Stopwatch()
        let purchases = BGNBD.fit(histories)
        let purchasesSeconds = clock.elapsed
        clock = Stopwatch()
        let spend = GammaGamma.fit(histories)
        let spendSeconds = clock.elapsed

        let grouped = GroupedHistories(histories)
        clock = Stopwatch()
        let groupedValue = grouped.logLikelihood(purchases.model)
        let groupedSeconds = clock.elapsed
        clock = Stopwatch()
        let direct = histories.reduce(0) { $0 + purchases.model.logLikelihood($1) }
        let directSeconds = clock.elapsed
        return Result(customers: histories.count, groups: grouped.groups.count, purchases: purchases, spend: spend, truth: truth,
                      purchasesSeconds: purchasesSeconds, spendSeconds: spendSeconds,
                      groupedEvaluationSeconds: groupedSeconds, perCustomerEvaluationSeconds: directSeconds,
                      likelihoodsAgree: abs(groupedValue - direct) <= 1e-9 * abs(direct))
    }
}
