@testable import CofferAnalysis
import CofferFormats
import Foundation
import Testing

/// Issue 19: BG/NBD and Gamma-Gamma, fitted in Swift, against the papers' CDNOW figures.
struct PurchaseModelTests {
    /// The CDNOW sample of the BG/NBD paper: 2,357 customers, 39-week calibration, in weeks
    /// (x, tₓ, T and the mean repeat-purchase value z̄), as shipped in the `lifetimes` package.
    static let cdnow: [PurchaseHistory] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/cdnow/cdnow_customers_summary_with_transactions.csv")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line in
            let fields = line.split(separator: ",").compactMap { Double($0) }
            guard fields.count == 5 else { return nil }
            return PurchaseHistory(repeatPurchases: Int(fields[1]), recency: fields[2], age: fields[3], meanSpend: fields[4])
        }
    }()

    /// `value` rounded to three significant figures equals `expected` so rounded.
    static func sameTo3(_ value: Double, _ expected: Double) -> Bool {
        let scale = pow(10, 2 - floor(log10(abs(expected))))
        return (value * scale).rounded() == (expected * scale).rounded()
    }

    @Test("per customer, p_alive, expected purchases in 39 weeks and expected spend agree with the lifetimes package (its output, shipped)")
    func againstLifetimes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/cdnow/lifetimes_reference.csv")
        let rows = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) } }
        #expect(rows.count == 6)
        let purchases = BGNBD.fit(Self.cdnow).model, spend = GammaGamma.fit(Self.cdnow).model
        func close(_ value: Double, _ reference: Double) -> Bool { abs(value - reference) <= 2e-3 * abs(reference) }
        for row in rows {
            let history = PurchaseHistory(repeatPurchases: Int(row[1]!), recency: row[2]!, age: row[3]!, meanSpend: row[4]!)
            #expect(close(purchases.probabilityAlive(history), row[5]!), "customer \(row[0]!): p_alive")
            #expect(close(purchases.expectedPurchases(in: 39, given: history) ?? .nan, row[6]!), "customer \(row[0]!): expected purchases")
            if let reference = row[7] { #expect(close(spend.expectedMeanSpend(history), reference), "customer \(row[0]!): expected spend") }
        }
    }

    @Test("BG/NBD on CDNOW: r = 0.243, α = 4.414, a = 0.793, b = 2.426, log-likelihood −9582.4 (Fader, Hardie & Lee 2005)")
    func bgnbdOnCDNOW() {
        #expect(Self.cdnow.count == 2_357)
        let fit = BGNBD.fit(Self.cdnow)
        #expect(fit.converged)
        #expect(Self.sameTo3(fit.model.r, 0.243), "r = \(fit.model.r)")
        #expect(Self.sameTo3(fit.model.alpha, 4.414), "α = \(fit.model.alpha)")
        #expect(Self.sameTo3(fit.model.a, 0.793), "a = \(fit.model.a)")
        #expect(Self.sameTo3(fit.model.b, 2.426), "b = \(fit.model.b)")
        #expect(abs(fit.logLikelihood - -9582.4) < 0.1, "LL = \(fit.logLikelihood)")
        // The grouped likelihood the fit uses is the per-customer one, summed.
        let direct = Self.cdnow.reduce(0) { $0 + fit.model.logLikelihood($1) }
        #expect(abs(direct - fit.logLikelihood) < 1e-6)
    }

    @Test("BG/NBD forecasts on CDNOW: the paper's customer with x = 2, tₓ = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks")
    func bgnbdForecast() throws {
        let model = BGNBD(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426)
        let customer = PurchaseHistory(repeatPurchases: 2, recency: 30.43, age: 38.86)
        let expected = try #require(model.expectedPurchases(in: 39, given: customer))
        #expect(abs(expected - 1.226) < 0.002, "\(expected)")
        // A new customer's expected repeat purchases in 78 weeks (eq. 9) match customers simulated from the model.
        let newCustomer = try #require(model.expectedPurchases(in: 78))
        var simulator = PurchaseSimulator(seed: 7)
        let simulated = simulator.histories(200_000, age: 78, purchases: model, spend: GammaGamma(p: 6, q: 4, gamma: 15))
        let mean = Double(simulated.reduce(0) { $0 + $1.repeatPurchases }) / Double(simulated.count)
        #expect(abs(mean - newCustomer) / newCustomer < 0.03, "eq. 9: \(newCustomer), simulated: \(mean)")
        #expect(model.probabilityAlive(customer) > 0 && model.probabilityAlive(customer) < 1)
        #expect(model.probabilityAlive(PurchaseHistory(repeatPurchases: 0, recency: 0, age: 38.86)) == 1)
    }

    @Test("Gamma-Gamma on CDNOW's repeat buyers: p ≈ 6.25, q ≈ 3.74, γ ≈ 15.44 (Fader & Hardie 2013)")
    func gammaGammaOnCDNOW() {
        let fit = GammaGamma.fit(Self.cdnow)
        #expect(fit.converged)
        #expect(Self.sameTo3(fit.model.p, 6.25), "p = \(fit.model.p)")
        #expect(Self.sameTo3(fit.model.q, 3.74), "q = \(fit.model.q)")
        #expect(Self.sameTo3(fit.model.gamma, 15.44), "γ = \(fit.model.gamma)")
        // The cached likelihood the fit uses is the per-customer one, summed over the repeat buyers.
        let direct = Self.cdnow.filter { $0.repeatPurchases > 0 }.reduce(0) { $0 + fit.model.logLikelihood($1) }
        #expect(abs(direct - fit.logLikelihood) < 1e-6)
        // A customer's expected spend lies between the population mean and their own.
        let buyer = PurchaseHistory(repeatPurchases: 2, recency: 30.43, age: 38.86, meanSpend: 22.35)
        let population = fit.model.p * fit.model.gamma / (fit.model.q - 1)
        let expected = fit.model.expectedMeanSpend(buyer)
        #expect(min(population, 22.35) < expected && expected < max(population, 22.35))
    }

    @Test("parameters are recovered from customers simulated with known BG/NBD and Gamma-Gamma parameters")
    func parameterRecovery() {
        let truth = BGNBD(r: 0.6, alpha: 12, a: 0.9, b: 3.2), spend = GammaGamma(p: 4, q: 5, gamma: 30)
        var simulator = PurchaseSimulator(seed: 20_261_130)
        let histories = simulator.histories(40_000, age: 52, purchases: truth, spend: spend)
        let fit = BGNBD.fit(histories)
        #expect(fit.converged)
        for (name, value, expected) in [("r", fit.model.r, truth.r), ("α", fit.model.alpha, truth.alpha),
                                        ("a", fit.model.a, truth.a), ("b", fit.model.b, truth.b)] {
            #expect(abs(value - expected) / expected < 0.15, "\(name) = \(value), simulated with \(expected)")
        }
        let spendFit = GammaGamma.fit(histories)
        for (name, value, expected) in [("p", spendFit.model.p, spend.p), ("q", spendFit.model.q, spend.q),
                                        ("γ", spendFit.model.gamma, spend.gamma)] {
            #expect(abs(value - expected) / expected < 0.2, "\(name) = \(value), simulated with \(expected)")
        }
    }

    @Test("₂F₁ against closed forms: ₂F₁(1, 1; 2; z) = −ln(1 − z)/z and ₂F₁(a, b; b; z) = (1 − z)^−a")
    func hypergeometric() throws {
        for z in [0.01, 0.3, 0.6, 0.9, 0.99] {
            let log = try #require(SpecialFunctions.hypergeometric2F1(1, 1, 2, z))
            #expect(abs(log - -Foundation.log(1 - z) / z) < 1e-12 * abs(log), "z = \(z)")
            let power = try #require(SpecialFunctions.hypergeometric2F1(2.5, 1.7, 1.7, z))
            #expect(abs(power - pow(1 - z, -2.5)) < 1e-11 * power, "z = \(z)")
        }
        #expect(SpecialFunctions.hypergeometric2F1(1, 1, 2, 1) == nil)
        #expect(abs(SpecialFunctions.logGamma(0.5) - Foundation.log(Double.pi.squareRoot())) < 1e-14)
    }

    @Test("Nelder-Mead finds the minimum of Rosenbrock's function")
    func nelderMead() {
        let result = NelderMead().minimise([-1.2, 1]) { p in 100 * pow(p[1] - p[0] * p[0], 2) + pow(1 - p[0], 2) }
        #expect(result.converged)
        #expect(abs(result.point[0] - 1) < 1e-4 && abs(result.point[1] - 1) < 1e-4, "\(result.point)")
    }
}

/// Issue 19: histories made from a transaction log, cut at a calibration date.
struct CalibrationSplitTests {
    /// Days since 1970 of a yyyymmdd date.
    static func day(_ text: Substring) -> Int {
        let value = Int(text) ?? 0
        return CivilCalendar.daysFromCivil(year: value / 10_000, month: value / 100 % 100, day: value % 100)
    }

    /// CDNOW_sample.txt: customer (master id), customer (sample id), yyyymmdd, quantity, value.
    static let transactions: [Purchase] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/cdnow/CDNOW_sample.txt")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 5, let value = Double(fields[4]) else { return nil }
            return Purchase(customer: String(fields[1]), day: day(fields[2]), value: value)
        }
    }()

    @Test("CDNOW's 6,919 transactions, cut at 1997-09-30 in weeks, give the paper's x, tₓ, T and z̄ for all 2,357 customers")
    func cdnowFromTransactions() throws {
        let split = CalibrationSplit(Self.transactions, calibrationEnd: Self.day("19970930"), holdoutEnd: Self.day("19980630"), unit: .week)
        try #require(split.histories.count == 2_357)
        let summary = Dictionary(uniqueKeysWithValues: zip((1...2_357).map { String(format: "%04d", $0) }, PurchaseModelTests.cdnow))
        var differences: [String] = []
        for (customer, history) in zip(split.customers, split.histories) {
            guard let expected = summary[customer] else { differences.append("\(customer): not in the summary"); continue }
            func twoDecimals(_ value: Double) -> Double { (value * 100).rounded() / 100 }
            if history.repeatPurchases != expected.repeatPurchases || twoDecimals(history.recency) != expected.recency
                || twoDecimals(history.age) != expected.age || abs(history.meanSpend - expected.meanSpend) > 0.0051 {
                differences.append("\(customer): \(history) against \(expected)")
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ, e.g. \(differences.prefix(3))")
        // The holdout: each customer's distinct purchase days after the calibration, up to 1998-06-30.
        let after = Set(Self.transactions.filter { $0.day > Self.day("19970930") }.map { "\($0.customer) \($0.day)" })
        #expect(split.holdoutPurchases.reduce(0, +) == after.count)
    }

    @Test("the CDNOW fit forecasts the 39-week holdout: by calibration purchases, expected and actual means are close (figure 5)")
    func holdoutCheck() {
        let split = CalibrationSplit(Self.transactions, calibrationEnd: Self.day("19970930"), holdoutEnd: Self.day("19980630"), unit: .week)
        let model = BGNBD.fit(split.histories).model
        let check = HoldoutCheck(model: model, split: split, horizon: Double(Self.day("19980630") - Self.day("19970930")) / 7)
        #expect(check.rows.map(\.customers).reduce(0, +) == 2_357)
        #expect(check.rows.map(\.repeatPurchases) == Array(0...7))
        // The actual means come from the data alone: 1,411 customers without repeats made 0.237 purchases each after.
        #expect(check.rows[0].customers == 1_411 && abs(check.rows[0].actual - 0.2367) < 0.0001)
        for row in check.rows {
            #expect(abs(row.expected - row.actual) <= 0.35 * row.actual, "x = \(row.repeatPurchases): \(row.expected) against \(row.actual)")
        }
        let actual = check.rows.reduce(0) { $0 + $1.actual * Double($1.customers) }
        let expected = check.rows.reduce(0) { $0 + $1.expected * Double($1.customers) }
        #expect(abs(expected - actual) <= 0.15 * actual, "\(expected) expected against \(actual) made")
    }
}

/// Issue 19: a customer's forecast and lifetime value.
struct CustomerValueTests {
    let purchases = BGNBD(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426)
    let spend = GammaGamma(p: 6.25, q: 3.74, gamma: 15.44)

    @Test("undiscounted, the 12-month value is the expected spend times the purchases expected in 360 days; a discount lowers it")
    func lifetimeValue() throws {
        let history = PurchaseHistory(repeatPurchases: 2, recency: 30.43, age: 38.86, meanSpend: 22.35)
        let plain = try #require(CustomerValue(history: history, unit: .week, purchases: purchases, spend: spend, monthlyDiscount: 0))
        let in360 = try #require(purchases.expectedPurchases(in: 360 / 7, given: history))
        #expect(abs(plain.clv12m - plain.expectedSpend * in360) < 1e-9 * plain.clv12m)
        #expect(abs(plain.expectedSpend - spend.expectedMeanSpend(history)) < 1e-12)
        #expect(plain.purchases30 < plain.purchases90 && plain.purchases90 < plain.purchases365)
        let discounted = try #require(CustomerValue(history: history, unit: .week, purchases: purchases, spend: spend, monthlyDiscount: 0.01))
        #expect(discounted.clv12m < plain.clv12m && discounted.clv12m > plain.clv12m / pow(1.01, 12))
    }

    @Test("the same purchases long ago mean a likely lost customer: lower p_alive, a higher churn band, less value")
    func churnRisk() throws {
        let recent = PurchaseHistory(repeatPurchases: 6, recency: 38, age: 38.86, meanSpend: 30)
        let lapsed = PurchaseHistory(repeatPurchases: 6, recency: 4, age: 38.86, meanSpend: 30)
        let active = try #require(CustomerValue(history: recent, unit: .week, purchases: purchases, spend: spend, monthlyDiscount: 0.01))
        let gone = try #require(CustomerValue(history: lapsed, unit: .week, purchases: purchases, spend: spend, monthlyDiscount: 0.01))
        #expect(active.probabilityAlive > 0.7 && active.churnRisk == .low)
        #expect(gone.probabilityAlive < 0.3 && gone.churnRisk == .high)
        #expect(gone.clv12m < active.clv12m)
        // Without repeat purchases the spend is the population's mean, pγ/(q − 1).
        let once = try #require(CustomerValue(history: PurchaseHistory(repeatPurchases: 0, recency: 0, age: 10), unit: .week,
                                              purchases: purchases, spend: spend, monthlyDiscount: 0))
        #expect(abs(once.expectedSpend - 6.25 * 15.44 / 2.74) < 1e-9 && once.probabilityAlive == 1)
    }
}
