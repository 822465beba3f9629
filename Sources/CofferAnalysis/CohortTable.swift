import CofferFormats

/// Monthly acquisition cohorts: customers grouped by the calendar month of
/// their first purchase, and for each month after it, how many of them bought,
/// what share of the cohort that is, and what they spent. A cell (or a whole
/// cohort) of fewer customers than the minimum group size is left out, so no
/// table shows a group small enough to single anyone out.
package struct CohortTable: Sendable {
    /// One cohort's month `monthsSince` months after its first: `customers` of the cohort's `cohortSize` bought.
    package struct Cell: Sendable, Equatable {
        /// The cohort's month, `YYYY-MM`.
        package var cohort: String
        package var monthsSince: Int
        package var cohortSize: Int
        package var customers: Int
        package var revenue: Double
        /// `customers / cohortSize`.
        package var retention: Double { Double(customers) / Double(cohortSize) }
    }

    /// The cells shown, by cohort then month.
    package var cells: [Cell]
    /// Cells left out because fewer than the minimum group size were in them.
    package var suppressed: Int

    package init(_ purchases: [Purchase], minimumGroupSize: Int) {
        self.init(purchases.map { (customer: $0.customer, day: $0.day, value: $0.value) }, minimumGroupSize: minimumGroupSize)
    }

    /// The same table, customers named by their position (a projection's people: integers hash
    /// and compare far cheaper than the strings of `Purchase`).
    ///
    /// Not generic itself: a generic initialiser called from another module ran unspecialised
    /// (its dictionaries and sets looking up generic metadata at every step), a fifth of an
    /// incremental build's CPU; this one calls the generic body inside this module, specialised.
    package init(positions purchases: [(customer: Int, day: Int, value: Double)], minimumGroupSize: Int) {
        self.init(purchases, minimumGroupSize: minimumGroupSize)
    }

    private init<Customer: Hashable>(_ purchases: [(customer: Customer, day: Int, value: Double)], minimumGroupSize: Int) {
        let month = CivilCalendar.monthIndex(ofDay:)
        var first: [Customer: Int] = [:]
        for purchase in purchases { first[purchase.customer] = min(first[purchase.customer] ?? purchase.day, purchase.day) }
        var sizes: [Int: Int] = [:]
        for day in first.values { sizes[month(day), default: 0] += 1 }
        var buyers: [Int: [Int: Set<Customer>]] = [:], revenue: [Int: [Int: Double]] = [:]
        for purchase in purchases {
            let cohort = month(first[purchase.customer]!), since = month(purchase.day) - cohort
            buyers[cohort, default: [:]][since, default: []].insert(purchase.customer)
            revenue[cohort, default: [:]][since, default: 0] += purchase.value
        }
        var cells: [Cell] = [], suppressed = 0
        for (cohort, months) in buyers.sorted(by: { $0.key < $1.key }) {
            let size = sizes[cohort] ?? 0
            let label = CivilCalendar.monthLabel(cohort)
            for (since, customers) in months.sorted(by: { $0.key < $1.key }) {
                guard size >= minimumGroupSize, customers.count >= minimumGroupSize else {
                    suppressed += 1
                    continue
                }
                cells.append(Cell(cohort: label, monthsSince: since, cohortSize: size, customers: customers.count,
                                  revenue: revenue[cohort]?[since] ?? 0))
            }
        }
        self.cells = cells
        self.suppressed = suppressed
    }
}
