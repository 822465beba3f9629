@testable import CofferAnalysis
import CofferFormats
import Testing

/// Issue 19, item 5: acquisition cohorts against hand-computed cells, with the minimum group size.
struct CohortTableTests {
    static func day(_ year: Int, _ month: Int, _ day: Int) -> Int { CivilCalendar.daysFromCivil(year: year, month: month, day: day) }

    static let purchases: [Purchase] = [
        Purchase(customer: "c1", day: day(2026, 1, 5), value: 10), Purchase(customer: "c1", day: day(2026, 2, 10), value: 20),
        Purchase(customer: "c1", day: day(2026, 3, 1), value: 5),
        Purchase(customer: "c2", day: day(2026, 1, 20), value: 15), Purchase(customer: "c2", day: day(2026, 2, 2), value: 10),
        Purchase(customer: "c3", day: day(2026, 1, 31), value: 7),
        Purchase(customer: "c4", day: day(2026, 2, 14), value: 30), Purchase(customer: "c4", day: day(2026, 2, 20), value: 5),
        Purchase(customer: "c4", day: day(2026, 4, 1), value: 12),
        Purchase(customer: "c5", day: day(2026, 2, 28), value: 8), Purchase(customer: "c5", day: day(2026, 4, 15), value: 9),
        Purchase(customer: "c6", day: day(2026, 3, 3), value: 50),
    ]

    @Test("cells as computed by hand; with a minimum group size of 2, no cell of 0 or 1 customer appears")
    func handComputed() {
        let table = CohortTable(Self.purchases, minimumGroupSize: 2)
        // By hand: January's cohort is c1, c2, c3; February's c4, c5; March's c6 alone.
        #expect(table.cells == [
            CohortTable.Cell(cohort: "2026-01", monthsSince: 0, cohortSize: 3, customers: 3, revenue: 32),
            CohortTable.Cell(cohort: "2026-01", monthsSince: 1, cohortSize: 3, customers: 2, revenue: 30),
            CohortTable.Cell(cohort: "2026-02", monthsSince: 0, cohortSize: 2, customers: 2, revenue: 43),
            CohortTable.Cell(cohort: "2026-02", monthsSince: 2, cohortSize: 2, customers: 2, revenue: 21),
        ])
        // Left out: January month 2 (c1 alone) and the whole March cohort (c6 alone, its month 0).
        #expect(table.suppressed == 2)
        #expect(abs(table.cells[1].retention - 2.0 / 3) < 1e-12)
        #expect(table.cells.allSatisfy { $0.customers >= 2 && $0.cohortSize >= 2 })
        // Without a minimum, every cell shows.
        let all = CohortTable(Self.purchases, minimumGroupSize: 1)
        #expect(all.cells.count == 6 && all.suppressed == 0)
        #expect(all.cells.contains(CohortTable.Cell(cohort: "2026-03", monthsSince: 0, cohortSize: 1, customers: 1, revenue: 50)))
    }

    @Test("each customer's purchases in turn give the same cells as purchases named by customer")
    func groupedMatchNames() {
        /// The purchases by customer, as a projection passes them, and the customers' ranges.
        func grouped(_ purchases: [Purchase]) -> (purchases: [(day: Int, value: Double)], customers: [Range<Int>]) {
            var flat: [(day: Int, value: Double)] = [], customers: [Range<Int>] = []
            for customer in Set(purchases.map(\.customer)).sorted() {
                let start = flat.count
                flat += purchases.filter { $0.customer == customer }.map { ($0.day, $0.value) }
                customers.append(start..<flat.count)
            }
            return (flat, customers + [flat.count..<flat.count])   // a customer without purchases counts for nothing
        }
        // The hand-computed table, then random ones: customers buying in any order over two years.
        var random = SystemRandomNumberGenerator()
        let generated = (0..<3000).map { _ in
            Purchase(customer: "c\(Int.random(in: 0..<300, using: &random))", day: Self.day(2025, 1, 1) + Int.random(in: 0..<730, using: &random),
                     value: Double(Int.random(in: 1...5000, using: &random)) / 100)
        }
        for purchases in [Self.purchases, generated] {
            let (flat, customers) = grouped(purchases)
            // The named table sums in the grouped order too, so that both add the same amounts in the same order.
            let reordered = Set(purchases.map(\.customer)).sorted().flatMap { customer in purchases.filter { $0.customer == customer } }
            for minimum in [1, 2, 3, 5] {
                let named = CohortTable(reordered, minimumGroupSize: minimum)
                let byCustomer = CohortTable(purchases: flat, customers: customers, minimumGroupSize: minimum)
                #expect(byCustomer.cells == named.cells && byCustomer.suppressed == named.suppressed, "minimum \(minimum)")
            }
        }
    }
}
