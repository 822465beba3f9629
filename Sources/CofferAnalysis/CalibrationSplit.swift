/// One purchase as the models take it: whose, which day, and what it was worth.
package struct Purchase: Sendable {
    package var customer: String
    /// Days since 1970-01-01 (UTC or the shop's zone; the same for every purchase).
    package var day: Int
    package var value: Double

    package init(customer: String, day: Int, value: Double) {
        self.customer = customer
        self.day = day
        self.value = value
    }
}

/// The unit the models count time in: the BG/NBD paper's figures are in weeks.
package enum TimeUnit: String, Sendable, CaseIterable {
    case day, week

    package var days: Double { self == .day ? 1 : 7 }
}

/// Customers' purchases cut at the end of a calibration period: what the models
/// are fitted on, and what happened after, to check their forecasts against.
///
/// As in the BG/NBD paper, purchases are counted per day (several on one day are
/// one purchase, worth their sum); a customer's first purchase day starts their
/// history, and only customers who bought by the end of the calibration count.
package struct CalibrationSplit: Sendable {
    /// The customers, in order of their first purchase (then id).
    package var customers: [String]
    /// Each one's history up to the end of the calibration, in `unit`.
    package var histories: [PurchaseHistory]
    /// Each one's purchase days after the calibration, up to the end of the holdout.
    package var holdoutPurchases: [Int]
    package var unit: TimeUnit

    /// Splits `purchases` at the end of day `calibrationEnd`; purchases after
    /// `holdoutEnd` (when given) are ignored.
    package init(_ purchases: [Purchase], calibrationEnd: Int, holdoutEnd: Int? = nil, unit: TimeUnit) {
        var days: [String: [Int: Double]] = [:]
        for purchase in purchases where holdoutEnd.map({ purchase.day <= $0 }) ?? true {
            days[purchase.customer, default: [:]][purchase.day, default: 0] += purchase.value
        }
        let rows: [(customer: String, first: Int, history: PurchaseHistory, holdout: Int)] = days.compactMap { customer, values in
            let sorted = values.keys.sorted()
            guard let first = sorted.first, first <= calibrationEnd else { return nil }
            let repeats = sorted.dropFirst().filter { $0 <= calibrationEnd }
            let spend = repeats.reduce(0) { $0 + values[$1]! }
            let history = PurchaseHistory(repeatPurchases: repeats.count,
                                          recency: Double((repeats.last ?? first) - first) / unit.days,
                                          age: Double(calibrationEnd - first) / unit.days,
                                          meanSpend: repeats.isEmpty ? 0 : spend / Double(repeats.count))
            return (customer, first, history, sorted.count { $0 > calibrationEnd })
        }.sorted { ($0.first, $0.customer) < ($1.first, $1.customer) }
        customers = rows.map(\.customer)
        histories = rows.map(\.history)
        holdoutPurchases = rows.map(\.holdout)
        self.unit = unit
    }
}
