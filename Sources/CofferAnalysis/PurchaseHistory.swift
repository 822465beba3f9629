/// One customer's purchases as the BG/NBD and Gamma-Gamma models read them
/// (Fader, Hardie & Lee 2005: x, tₓ, T), in one time unit (days or weeks).
package struct PurchaseHistory: Sendable, Hashable {
    /// Repeat purchases: purchase days (or weeks) after the first one.
    package var repeatPurchases: Int
    /// When the last purchase was, counted from the first (0 without repeats).
    package var recency: Double
    /// How long the customer has been one: from the first purchase to the end of the calibration.
    package var age: Double
    /// The mean value of the repeat purchases (Gamma-Gamma); 0 without repeats.
    package var meanSpend: Double

    /// Whether Gamma-Gamma can learn from this customer: they bought again, and spent something.
    package var hasRepeatSpend: Bool { repeatPurchases > 0 && meanSpend > 0 }

    package init(repeatPurchases: Int, recency: Double, age: Double, meanSpend: Double = 0) {
        self.repeatPurchases = repeatPurchases
        self.recency = recency
        self.age = age
        self.meanSpend = meanSpend
    }
}
