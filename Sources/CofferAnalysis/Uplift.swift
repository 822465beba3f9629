#if canImport(Glibc)
import Glibc
#endif

/// How a treated group did against its holdout, with 95 % confidence intervals:
/// a two-proportion (Wald, unpooled) interval for the conversion rate, and
/// Welch's t interval for revenue per member.
package struct Uplift: Sendable, Equatable {
    /// A difference and its 95 % interval.
    package struct Interval: Sendable, Equatable {
        package var estimate: Double
        package var low: Double
        package var high: Double
    }

    /// Treated minus holdout conversion rate (absolute, in rate points).
    package var conversion: Interval
    /// `conversion` over the holdout's rate (nil when the holdout converted nobody); the interval is the
    /// absolute one over the holdout's rate, treating that rate as known.
    package var relativeConversion: Interval?
    /// Treated minus holdout revenue per member.
    package var revenue: Interval
    /// Welch–Satterthwaite degrees of freedom of the revenue interval.
    package var degreesOfFreedom: Double

    /// One group's outcome: members, how many converted, and each member's revenue (zeros included).
    package struct Group: Sendable {
        package var members: Int
        package var conversions: Int
        package var revenue: [Double]

        package init(members: Int, conversions: Int, revenue: [Double]) {
            self.members = members
            self.conversions = conversions
            self.revenue = revenue
        }

        var rate: Double { Double(conversions) / Double(members) }
        var mean: Double { revenue.reduce(0, +) / Double(members) }
        /// Sample variance (n − 1), over all `members` (those missing from `revenue` spent 0).
        var variance: Double {
            let mean = mean
            let squares = revenue.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } + Double(members - revenue.count) * mean * mean
            return members > 1 ? squares / Double(members - 1) : 0
        }
    }

    /// nil when a group has fewer than two members.
    package init?(treated: Group, holdout: Group) {
        guard treated.members > 1, holdout.members > 1 else { return nil }
        let z = 1.959963984540054
        let difference = treated.rate - holdout.rate
        let se = (treated.rate * (1 - treated.rate) / Double(treated.members)
            + holdout.rate * (1 - holdout.rate) / Double(holdout.members)).squareRoot()
        conversion = Interval(estimate: difference, low: difference - z * se, high: difference + z * se)
        relativeConversion = holdout.rate > 0
            ? Interval(estimate: difference / holdout.rate, low: (difference - z * se) / holdout.rate, high: (difference + z * se) / holdout.rate)
            : nil
        let a = treated.variance / Double(treated.members), b = holdout.variance / Double(holdout.members)
        let spread = (a + b).squareRoot()
        let df = spread > 0 ? (a + b) * (a + b) / (a * a / Double(treated.members - 1) + b * b / Double(holdout.members - 1)) : .infinity
        degreesOfFreedom = df
        let t = spread > 0 ? Uplift.studentQuantile(0.975, degreesOfFreedom: df) : z
        let meanDifference = treated.mean - holdout.mean
        revenue = Interval(estimate: meanDifference, low: meanDifference - t * spread, high: meanDifference + t * spread)
    }

    /// The `p` quantile of Student's t with `df` degrees of freedom (p > 0.5), by bisection on its CDF.
    package static func studentQuantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        guard df.isFinite, df < 1e7 else { return normalQuantile975 }
        var low = 0.0, high = 1000.0
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if studentCDF(middle, degreesOfFreedom: df) < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    static let normalQuantile975 = 1.959963984540054

    /// P(T ≤ t) for t ≥ 0: 1 − I_{df/(df+t²)}(df/2, 1/2) / 2.
    static func studentCDF(_ t: Double, degreesOfFreedom df: Double) -> Double {
        1 - 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5)
    }

    /// I_x(a, b), by the continued fraction (Lentz's method), using the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges faster.
    static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let front = exp(a * log(x) + b * log(1 - x) - SpecialFunctions.logBeta(a, b))
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var fraction = d
        for m in 1...10_000 {
            let m = Double(m)
            for step in 0..<2 {
                let numerator = step == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                          : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                d = 1 + numerator * d
                if abs(d) < tiny { d = tiny }
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                fraction *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return front * fraction / a
    }
}
