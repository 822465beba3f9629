@testable import CofferAnalysis
import Testing

/// Issue 20, item 5: uplift and its intervals against values computed with SciPy
/// (scipy.stats.t.ppf; the Welch interval as scipy.stats.ttest_ind(equal_var=False) builds it).
struct UpliftTests {
    @Test("Student t quantiles match SciPy's to 1e-6")
    func quantiles() {
        for (df, expected) in [(3.0, 3.1824463052837078), (10.5, 2.2138402929187886), (57.3, 2.002238268231336),
                               (1000.0, 1.9623390808264083)] {
            #expect(abs(Uplift.studentQuantile(0.975, degreesOfFreedom: df) - expected) < 1e-6, "df \(df)")
        }
    }

    @Test("1,000 treated (120 converted) against a holdout of 200 (15): the hand-checked intervals")
    func fixture() throws {
        let treated = Uplift.Group(members: 1000, conversions: 120,
                                   revenue: Array(repeating: 10, count: 60) + Array(repeating: 25, count: 40) + Array(repeating: 4.5, count: 20))
        let holdout = Uplift.Group(members: 200, conversions: 15, revenue: Array(repeating: 10, count: 8) + Array(repeating: 25, count: 5))
        let uplift = try #require(Uplift(treated: treated, holdout: holdout))
        // 0.12 − 0.075 = 0.045, ± 1.96 · √(0.12·0.88/1000 + 0.075·0.925/200).
        #expect(abs(uplift.conversion.estimate - 0.045) < 1e-12)
        #expect(abs(uplift.conversion.low - 0.0033087049866093177) < 1e-9 && abs(uplift.conversion.high - 0.08669129501339068) < 1e-9)
        #expect(abs(uplift.relativeConversion!.estimate - 0.6) < 1e-12, "4.5 points on 7.5 %: +60 %")
        // Revenue per member 2.59 against 1.925: Welch, 333.3 degrees of freedom.
        #expect(abs(uplift.revenue.estimate - 0.665) < 1e-12)
        #expect(abs(uplift.degreesOfFreedom - 333.28653394563804) < 1e-6)
        #expect(abs(uplift.revenue.low - -0.021844584238959852) < 1e-6 && abs(uplift.revenue.high - 1.35184458423896) < 1e-6)
        #expect(Uplift(treated: treated, holdout: .init(members: 1, conversions: 0, revenue: [])) == nil)
    }
}
