/// How well a fitted BG/NBD model forecasts: for customers grouped by their
/// repeat purchases in the calibration period, the mean purchases they made in
/// the holdout period against the mean the model expected (the paper's figure 5).
package struct HoldoutCheck: Sendable {
    package struct Row: Sendable {
        /// Repeat purchases in the calibration period; the last row holds this many or more.
        package var repeatPurchases: Int
        package var customers: Int
        package var actual: Double
        package var expected: Double
    }

    package var rows: [Row]
    /// The holdout's length, in the split's unit.
    package var horizon: Double

    /// Groups 0, 1, …, `lastGroup` − 1 repeat purchases, and `lastGroup` or more.
    package init(model: BGNBD, split: CalibrationSplit, horizon: Double, lastGroup: Int = 7) {
        var sums = [(customers: Int, actual: Double, expected: Double)](repeating: (0, 0, 0), count: lastGroup + 1)
        for (history, holdout) in zip(split.histories, split.holdoutPurchases) {
            let group = min(history.repeatPurchases, lastGroup)
            sums[group].customers += 1
            sums[group].actual += Double(holdout)
            sums[group].expected += model.expectedPurchases(in: horizon, given: history) ?? .nan
        }
        rows = sums.enumerated().filter { $0.element.customers > 0 }.map { group, sum in
            Row(repeatPurchases: group, customers: sum.customers, actual: sum.actual / Double(sum.customers),
                expected: sum.expected / Double(sum.customers))
        }
        self.horizon = horizon
    }
}
