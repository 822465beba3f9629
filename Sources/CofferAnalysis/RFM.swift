import CofferFormats

/// Recency, frequency and monetary scores (1–5, by quintile) and the usual named
/// segments, for customers who bought.
package enum RFM {
    /// One customer's inputs.
    package struct Input: Sendable, Equatable {
        /// Days since the last purchase (fewer is better).
        package var recencyDays: Double
        /// Purchases in the analysis window (more is better).
        package var frequency: Double
        /// Spend in the analysis window (more is better).
        package var monetary: Double

        package init(recencyDays: Double, frequency: Double, monetary: Double) {
            self.recencyDays = recencyDays
            self.frequency = frequency
            self.monetary = monetary
        }
    }

    /// One customer's scores and segment.
    package struct Score: Sendable, Equatable {
        package var recency: Int
        package var frequency: Int
        package var monetary: Int
        package var segment: Segment
    }

    /// The named segments, from the recency and frequency scores (see `Segment.init`).
    package enum Segment: String, Sendable, CaseIterable {
        case champions
        case loyal
        case potentialLoyalists = "potential loyalists"
        case new
        case atRisk = "at risk"
        case cantLose = "can't lose"
        case hibernating
        case lost

        /// The segment of a recency score `r` and a frequency score `f`:
        ///
        ///     R\F  1            2                    3                    4          5
        ///     5    new          potential loyalists  potential loyalists  champions  champions
        ///     4    new          potential loyalists  potential loyalists  loyal      loyal
        ///     3    hibernating  hibernating          potential loyalists  loyal      loyal
        ///     2    hibernating  hibernating          at risk              at risk    can't lose
        ///     1    lost         hibernating          at risk              at risk    can't lose
        package init(recency r: Int, frequency f: Int) {
            switch (r, f) {
            case (5, 4...5): self = .champions
            case (3...4, 4...5): self = .loyal
            case (4...5, 2...3), (3, 3): self = .potentialLoyalists
            case (4...5, 1): self = .new
            case (1...2, 5): self = .cantLose
            case (1...2, 3...4): self = .atRisk
            case (1, 1): self = .lost
            default: self = .hibernating   // (3, 1–2), (1–2, 1–2) but (1, 1)
            }
        }
    }

    /// The scores of `customers`, in their order. A score is the quintile of the
    /// customer's value among everyone's, 5 for the best fifth: 1 + ⌊5·w/n⌋ where
    /// w is how many customers have a strictly worse value, so equal values
    /// always share a score.
    package static func scores(_ customers: [Input]) -> [Score] {
        let recency = quintiles(customers.map { -$0.recencyDays })
        let frequency = quintiles(customers.map(\.frequency))
        let monetary = quintiles(customers.map(\.monetary))
        return customers.indices.map { index in
            Score(recency: recency[index], frequency: frequency[index], monetary: monetary[index],
                  segment: Segment(recency: recency[index], frequency: frequency[index]))
        }
    }

    /// 1–5 for each value (higher is better), by how many values are strictly lower.
    static func quintiles(_ values: [Double]) -> [Int] {
        let sorted = values.sorted()
        let n = Double(values.count)
        return values.map { value in
            let worse = sorted.partitioningIndex { $0 >= value }
            return 1 + min(4, Int(5 * Double(worse) / n))
        }
    }
}
