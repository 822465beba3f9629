@testable import CofferAnalysis
import CofferFormats
import Testing

/// Issue 19, item 3: RFM quintile scores and segments, against a hand-computed fixture.
struct RFMTests {
    @Test("ten customers score as computed by hand: quintiles by how many are strictly worse, ties sharing a score")
    func handComputed() {
        //                 recency days, purchases, spend
        let customers: [(String, Double, Double, Double)] = [
            ("A", 1, 10, 500), ("B", 5, 8, 300), ("C", 10, 8, 250), ("D", 20, 5, 200), ("E", 30, 4, 120),
            ("F", 45, 3, 100), ("G", 60, 2, 80), ("H", 90, 2, 60), ("I", 180, 1, 30), ("J", 365, 1, 10),
        ]
        let scores = RFM.scores(customers.map { RFM.Input(recencyDays: $0.1, frequency: $0.2, monetary: $0.3) })
        // By hand: n = 10, score = 1 + ⌊5·(customers strictly worse)/10⌋.
        #expect(scores.map(\.recency) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
        #expect(scores.map(\.frequency) == [5, 4, 4, 4, 3, 3, 2, 2, 1, 1])   // 8 and 8 tie (7 worse: 4), so do 2 and 2 (2 worse: 2)
        #expect(scores.map(\.monetary) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
        #expect(scores.map(\.segment) == [.champions, .champions, .loyal, .loyal, .potentialLoyalists, .potentialLoyalists,
                                          .hibernating, .hibernating, .lost, .lost])
    }

    @Test("every cell of the R×F grid has one of the eight segments, as the grid in Segment's documentation says")
    func grid() {
        let expected: [[RFM.Segment]] = [   // rows R = 5…1, columns F = 1…5
            [.new, .potentialLoyalists, .potentialLoyalists, .champions, .champions],
            [.new, .potentialLoyalists, .potentialLoyalists, .loyal, .loyal],
            [.hibernating, .hibernating, .potentialLoyalists, .loyal, .loyal],
            [.hibernating, .hibernating, .atRisk, .atRisk, .cantLose],
            [.lost, .hibernating, .atRisk, .atRisk, .cantLose],
        ]
        for (row, r) in (1...5).reversed().enumerated() {
            for f in 1...5 { #expect(RFM.Segment(recency: r, frequency: f) == expected[row][f - 1], "R \(r) F \(f)") }
        }
        #expect(Set(expected.joined()) == Set(RFM.Segment.allCases))
    }

    @Test("all customers equal: everyone scores 1 (nobody is worse); one customer scores 1")
    func degenerate() {
        let same = RFM.scores(Array(repeating: RFM.Input(recencyDays: 7, frequency: 2, monetary: 20), count: 4))
        #expect(same.allSatisfy { $0.recency == 1 && $0.frequency == 1 && $0.monetary == 1 && $0.segment == .lost })
        #expect(RFM.scores([RFM.Input(recencyDays: 1, frequency: 1, monetary: 1)]).first?.recency == 1)
        #expect(RFM.scores([]).isEmpty)
    }
}

/// The one binary search the analysis and the projections share.
struct PartitioningIndexTests {
    @Test("the first index where a suffix predicate holds; the end when none does; empty and one-element collections")
    func search() {
        let sorted = [1.0, 2, 2, 2, 5, 9]
        #expect(sorted.partitioningIndex { $0 >= 2 } == 1 && sorted.partitioningIndex { $0 > 2 } == 4)
        #expect(sorted.partitioningIndex { $0 >= 10 } == 6 && sorted.partitioningIndex { $0 >= 0 } == 0)
        #expect([Double]().partitioningIndex { _ in true } == 0 && [3.0].partitioningIndex { $0 > 3 } == 1)
        #expect(sorted[2...].partitioningIndex { $0 >= 5 } == 4, "indices are the slice's own")
        for count in 0..<20 {
            let values = Array(0..<count)
            for split in 0...count { #expect(values.partitioningIndex { $0 >= split } == split) }
        }
    }
}
