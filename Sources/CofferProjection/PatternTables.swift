import CofferAnalysis
import CofferFormats
import Dispatch
import CofferStore
import GRDB
import Synchronization

/// The aggregate tables of one projection file, computed over the people in it
/// (so a purpose sees only the purchases of people it may hold): acquisition
/// cohorts, weekday × hour purchase counts, channel mix by month, basket sizes,
/// category mix and, in the recommendations purpose's files, product affinity.
///
/// Every cell counts distinct customers, and a cell of fewer than the policy's
/// minimum group size is left out (its count kept in `projection_info`), for
/// every role: a small cell singles people out whoever reads it. Shares are of
/// the cells shown, so no left-out cell can be worked out by subtraction.
struct PatternTables: Sendable {
    let minimum: Int
    /// Cells left out for being below the minimum group size, over all tables.
    private(set) var suppressed = 0
    /// The rows of each table, in insertion order, once computed (`compute`).
    private var rows: [(table: String, values: [DatabaseValue])] = []

    init(minimumGroupSize: Int) { minimum = minimumGroupSize }

    static let schema = """
        CREATE TABLE cohorts (cohort TEXT NOT NULL, months_since INTEGER NOT NULL, cohort_size INTEGER NOT NULL,
            customers INTEGER NOT NULL, retention REAL NOT NULL, revenue REAL NOT NULL, PRIMARY KEY (cohort, months_since));
        CREATE TABLE purchase_hours (weekday TEXT NOT NULL, hour INTEGER NOT NULL, purchases INTEGER NOT NULL,
            customers INTEGER NOT NULL, PRIMARY KEY (weekday, hour));
        CREATE TABLE channel_mix (month TEXT NOT NULL, channel TEXT NOT NULL, purchases INTEGER NOT NULL,
            customers INTEGER NOT NULL, share REAL NOT NULL, PRIMARY KEY (month, channel));
        CREATE TABLE basket_sizes (size TEXT PRIMARY KEY NOT NULL, purchases INTEGER NOT NULL, customers INTEGER NOT NULL,
            share REAL NOT NULL);
        CREATE TABLE category_mix (category TEXT PRIMARY KEY NOT NULL, items REAL NOT NULL, baskets INTEGER NOT NULL,
            customers INTEGER NOT NULL, revenue REAL, share REAL NOT NULL);
        """

    static let affinitySchema = """
        CREATE TABLE product_affinity (item TEXT NOT NULL, other TEXT NOT NULL, baskets INTEGER NOT NULL, customers INTEGER NOT NULL,
            support REAL NOT NULL, confidence REAL NOT NULL, lift REAL NOT NULL, PRIMARY KEY (item, other));
        """

    static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// The file's people: positions into the build's people, read in place (an aggregate is
    /// never copied: that cost more than the tables themselves).
    struct People {
        let all: [(key: SubjectID, value: CustomerAggregate)]
        let positions: [Int]
    }

    /// The tables of the file's people (files of the same people share them: `PatternCache`).
    static func compute(_ people: People, minimumGroupSize: Int) -> PatternTables {
        var tables = PatternTables(minimumGroupSize: minimumGroupSize)
        tables.cohorts(people)
        tables.hours(people)
        tables.channels(people)
        tables.sizes(people)
        tables.categories(people)
        return tables
    }

    /// Writes the computed tables, and `affinity` in the recommendations purpose's files.
    func write(affinity: ProductAffinity?, into db: Database) throws {
        try db.execute(sql: Self.schema)
        var statements: [String: Statement] = [:]
        for row in rows {
            let statement = try statements[row.table] ?? db.makeStatement(
                sql: "INSERT INTO \(row.table) VALUES (\(Array(repeating: "?", count: row.values.count).joined(separator: ", ")))")
            statements[row.table] = statement
            try statement.execute(arguments: StatementArguments(row.values))
        }
        if let affinity {
            try db.execute(sql: Self.affinitySchema)
            for rule in affinity.rules {
                try db.execute(sql: "INSERT INTO product_affinity VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [rule.item, rule.other, rule.baskets, rule.customers, round4(rule.support),
                                           round4(rule.confidence), round4(rule.lift)])
            }
        }
    }

    private mutating func add(_ table: String, _ values: [(any DatabaseValueConvertible)?]) {
        rows.append((table, values.map { $0?.databaseValue ?? .null }))
    }

    private func round4(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

    /// Whether a cell of `customers` distinct customers may be shown; counts it when not.
    private mutating func shown(_ customers: Int) -> Bool {
        if customers >= minimum { return true }
        suppressed += 1
        return false
    }

    private mutating func cohorts(_ people: People) {
        var purchases: [(day: Int, value: Double)] = [], customers: [Range<Int>] = []
        customers.reserveCapacity(people.positions.count)
        for position in people.positions {
            let start = purchases.count
            for day in people.all[position].value.purchaseDays.days { purchases.append((Int(day.day), day.spend)) }
            customers.append(start..<purchases.count)
        }
        let table = CohortTable(purchases: purchases, customers: customers, minimumGroupSize: minimum)
        suppressed += table.suppressed
        for cell in table.cells {
            add("cohorts", [cell.cohort, cell.monthsSince, cell.cohortSize, cell.customers, round4(cell.retention),
                                       (cell.revenue * 100).rounded() / 100])
        }
    }

    private mutating func hours(_ people: People) {
        var purchases = [Int](repeating: 0, count: 168), customers = [Int](repeating: 0, count: 168)
        for position in people.positions {
            for entry in people.all[position].value.detail.hours.entries {
                purchases[Int(entry.key)] += Int(entry.count)
                customers[Int(entry.key)] += 1
            }
        }
        for hour in 0..<168 where purchases[hour] > 0 && shown(customers[hour]) {
            add("purchase_hours", [Self.weekdays[hour / 24], hour % 24, purchases[hour], customers[hour]])
        }
    }

    private mutating func channels(_ people: People) {
        /// (month, online?) → purchases, customers
        var cells: [Int: (purchases: Int, customers: Int)] = [:]
        var seen: [Int] = []
        for position in people.positions {
            seen.removeAll(keepingCapacity: true)
            for day in people.all[position].value.purchaseDays.days {
                let key = CivilCalendar.monthIndex(ofDay: Int(day.day))
                for (online, count) in [(1, Int(day.online)), (0, Int(day.carts - day.online))] where count > 0 {
                    let cell = key * 2 + online
                    cells[cell, default: (0, 0)].purchases += count
                    // Days come in order, so a person's cells of one month are the last few seen.
                    if !seen.suffix(2).contains(cell) {
                        seen.append(cell)
                        cells[cell]!.customers += 1
                    }
                }
            }
        }
        let kept = cells.sorted(by: { $0.key < $1.key }).filter { shown($0.value.customers) }
        var totals: [Int: Int] = [:]
        for (cell, value) in kept { totals[cell / 2, default: 0] += value.purchases }
        for (cell, value) in kept {
            let month = cell / 2
            let label = CivilCalendar.monthLabel(month)
            add("channel_mix", [label, cell % 2 == 1 ? "online" : "in-store", value.purchases, value.customers,
                                       round4(Double(value.purchases) / Double(totals[month]!))])
        }
    }

    private mutating func sizes(_ people: People) {
        var cells: [String: (purchases: Int, customers: Int)] = [:]
        for position in people.positions {
            for entry in people.all[position].value.detail.sizes.entries {
                cells[entry.key, default: (0, 0)].purchases += Int(entry.count)
                cells[entry.key]!.customers += 1
            }
        }
        let kept = cells.sorted(by: { $0.key < $1.key }).filter { shown($0.value.customers) }
        let total = kept.reduce(0) { $0 + $1.value.purchases }
        for (size, value) in kept {
            add("basket_sizes", [size, value.purchases, value.customers, round4(Double(value.purchases) / Double(total))])
        }
    }

    private mutating func categories(_ people: People) {
        var cells: [String: (items: Double, baskets: Int, customers: Int, revenue: Double?)] = [:]
        var seen: [String] = [], inBasket: [String] = []   // a few categories each: arrays beat sets
        for position in people.positions {
            seen.removeAll(keepingCapacity: true)
            for basket in people.all[position].value.detail.baskets {
                inBasket.removeAll(keepingCapacity: true)
                for line in basket.lines {
                    let category = line.category ?? "uncategorised"
                    var cell = cells[category] ?? (0, 0, 0, nil)
                    cell.items += line.quantity
                    if let amount = line.amount { cell.revenue = (cell.revenue ?? 0) + amount }
                    if !inBasket.contains(category) {
                        inBasket.append(category)
                        cell.baskets += 1
                    }
                    if !seen.contains(category) {
                        seen.append(category)
                        cell.customers += 1
                    }
                    cells[category] = cell
                }
            }
        }
        let kept = cells.sorted(by: { $0.key < $1.key }).filter { shown($0.value.customers) }
        let totalItems = kept.reduce(0) { $0 + $1.value.items }
        for (category, value) in kept {
            add("category_mix", [category, value.items, value.baskets, value.customers,
                                       value.revenue.map { ($0 * 100).rounded() / 100 }, round4(value.items / totalItems)])
        }
    }
}

/// The pattern tables computed in one build, by the people they cover: files of
/// the same people (an owner's and an analyst's file of one purpose, every
/// purpose of the same lawful basis) compute them once. Shared by the threads
/// that write the files.
final class PatternCache: Sendable {
    private let tables = Mutex<[[Int]: PatternTables]>([:])
    let minimumGroupSize: Int

    init(minimumGroupSize: Int) { self.minimumGroupSize = minimumGroupSize }

    /// The tables of `people`, computed on first request (two threads asking at once may both compute them).
    func tables(for people: PatternTables.People) -> PatternTables {
        if let known = tables.withLock({ $0[people.positions] }) { return known }
        let computed = PatternTables.compute(people, minimumGroupSize: minimumGroupSize)
        tables.withLock { $0[people.positions] = computed }
        return computed
    }

    /// Starts computing the tables of `people` on a thread of its own, for a build to do beside
    /// its model fits (which leave a core idle); `wait` on the returned group before the files ask.
    /// The files that hold everyone (the largest) then find them, where two of them written at
    /// once each computed them.
    func prepare(_ people: PatternTables.People) -> DispatchGroup {
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { _ = self.tables(for: people) }
        return group
    }
}
