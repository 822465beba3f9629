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

    /// The same table from each customer's purchases in turn: `purchases[customers[i]]` are the
    /// i-th customer's (a projection's people, one after another). No customer is hashed: a
    /// customer's first day and months are found among their own purchases (hashing every
    /// purchase's customer into sets was most of a build's pattern tables).
    package init(purchases: [(day: Int, value: Double)], customers: [Range<Int>], minimumGroupSize: Int) {
        let month = CivilCalendar.monthIndex(ofDay:)
        var sizes: [Int: Int] = [:], buyers: [Int: [Int: Int]] = [:], revenue: [Int: [Int: Double]] = [:]
        var months: [Int] = []
        for range in customers where !range.isEmpty {
            let cohort = month(purchases[range].lazy.map(\.day).min()!)
            sizes[cohort, default: 0] += 1
            months.removeAll(keepingCapacity: true)
            for purchase in purchases[range] {
                let since = month(purchase.day) - cohort
                revenue[cohort, default: [:]][since, default: 0] += purchase.value
                if !months.contains(since) { months.append(since) }
            }
            for since in months { buyers[cohort, default: [:]][since, default: 0] += 1 }
        }
        self.init(sizes: sizes, buyers: buyers, revenue: revenue, minimumGroupSize: minimumGroupSize)
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
        self.init(sizes: sizes, buyers: buyers.mapValues { $0.mapValues(\.count) }, revenue: revenue, minimumGroupSize: minimumGroupSize)
    }

    /// The cells from each cohort's size, and per cohort and month its buyers and revenue.
    private init(sizes: [Int: Int], buyers: [Int: [Int: Int]], revenue: [Int: [Int: Double]], minimumGroupSize: Int) {
        var cells: [Cell] = [], suppressed = 0
        for (cohort, months) in buyers.sorted(by: { $0.key < $1.key }) {
            let size = sizes[cohort] ?? 0
            let label = CivilCalendar.monthLabel(cohort)
            for (since, customers) in months.sorted(by: { $0.key < $1.key }) {
                guard size >= minimumGroupSize, customers >= minimumGroupSize else {
                    suppressed += 1
                    continue
                }
                cells.append(Cell(cohort: label, monthsSince: since, cohortSize: size, customers: customers,
                                  revenue: revenue[cohort]?[since] ?? 0))
            }
        }
        self.cells = cells
        self.suppressed = suppressed
    }
}
