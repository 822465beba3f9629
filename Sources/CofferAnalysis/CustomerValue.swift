#if canImport(Glibc)
import Glibc
#endif

/// What the two models say about one customer: whether they are still a
/// customer, what they will buy, and what that is worth.
package struct CustomerValue: Sendable, Equatable {
    /// The probability that they are still alive (BG/NBD eq. 13).
    package var probabilityAlive: Double
    /// Expected purchases in the next 30, 90 and 365 days.
    package var purchases30: Double
    package var purchases90: Double
    package var purchases365: Double
    /// Expected value of each future purchase (Gamma-Gamma; the population mean without repeats).
    package var expectedSpend: Double
    /// The next 12 months' expected spend, each 30-day month discounted at `monthlyDiscount`.
    package var clv12m: Double
    package var churnRisk: ChurnRisk

    /// How likely the customer has already gone, from `probabilityAlive`.
    package enum ChurnRisk: String, Sendable, CaseIterable {
        /// Still alive with probability 0.7 or more.
        case low
        /// 0.3 to 0.7.
        case medium
        /// Below 0.3.
        case high

        package init(probabilityAlive: Double) {
            self = probabilityAlive >= 0.7 ? .low : probabilityAlive >= 0.3 ? .medium : .high
        }
    }

    /// The value of a customer with `history` (in `unit`), under fitted models;
    /// nil where a forecast is undefined (see `BGNBD.expectedPurchases`).
    package init?(history: PurchaseHistory, unit: TimeUnit, purchases: BGNBD, spend: GammaGamma, monthlyDiscount: Double) {
        func expected(days: Double) -> Double? { purchases.expectedPurchases(in: days / unit.days, given: history) }
        // Expected purchases by the end of each 30-day month: the first and third are the 30- and 90-day figures.
        var byMonth: [Double] = []
        for month in 1...12 {
            guard let through = expected(days: 30 * Double(month)) else { return nil }
            byMonth.append(through)
        }
        guard let in365 = expected(days: 365) else { return nil }
        probabilityAlive = purchases.probabilityAlive(history)
        purchases30 = byMonth[0]
        purchases90 = byMonth[2]
        purchases365 = in365
        expectedSpend = history.hasRepeatSpend
            ? spend.expectedMeanSpend(history) : spend.p * spend.gamma / (spend.q - 1)
        var value = 0.0, before = 0.0
        for (month, through) in byMonth.enumerated() {
            value += expectedSpend * (through - before) / pow(1 + monthlyDiscount, Double(month + 1))
            before = through
        }
        clv12m = value
        churnRisk = ChurnRisk(probabilityAlive: probabilityAlive)
    }
}
