package import CofferAnalysis
import CofferCrypto
import CofferFormats
import CofferPolicy
package import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// `analyze clv`: the purchase models fitted over one purpose's people.
    package static let analyzeCLV = AuditAction(rawValue: "analyze-clv")
}

/// Why `analyze clv` cannot give a result.
package enum AnalysisError: CofferError, Equatable {
    case tooFewBuyers(purpose: String, buyers: Int, needed: Int)
    case calibrationAfterNow(String)

    package var description: String {
        switch self {
        case let .tooFewBuyers(purpose, buyers, needed):
            return Self.line("\(buyers) people who may be processed for \(purpose) bought before the calibration end; the models need \(needed) or more",
                             remedy: "ingest more purchases, or choose a later --calibration-end")
        case let .calibrationAfterNow(date):
            return Self.line("--calibration-end \(date) is not before today", remedy: "give a past date, leaving a holdout period after it")
        }
    }
}

/// What `coffer analyze clv` prints: the BG/NBD and Gamma-Gamma fits over the
/// purchases of the people a purpose may hold, and, with a calibration end,
/// predicted against actual purchases in the holdout after it.
package struct ClvAnalysisReport: Sendable {
    package var purpose: String
    package var unit: TimeUnit
    /// The calibration's last day and the holdout's (days since 1970); equal without a holdout.
    package var calibrationEnd: Int
    package var holdoutEnd: Int
    package var customers: Int
    package var repeatCustomers: Int
    package var purchases: BGNBD.Fit
    /// nil when too few customers bought again with a spend to fit it.
    package var spend: GammaGamma.Fit?
    /// Rows of fewer customers than the minimum group size are left out (`suppressedRows`).
    package var holdout: HoldoutCheck?
    package var suppressedRows = 0
    package var minimumGroupSize: Int
    package var seconds: Double

    /// Fewer customers who bought again (with a spend) than this, and Gamma-Gamma is not fitted.
    package static var minimumRepeaters: Int { CustomerAnalysis.minimumRepeaters }
}

extension ProjectionBuilder {
    /// Fits the purchase models over the purchases of everyone `purpose` may hold
    /// now (consent in force or no objection; not restricted, not erased), counted
    /// per day as the BG/NBD paper does, up to the end of `calibrationEnd` (a UTC day;
    /// nil: today, no holdout). Audited; needs the owner's build permission.
    package func analyzeCLV(purpose name: String, calibrationEnd: Int?, unit: TimeUnit, now: Int64 = EventLog.now()) throws -> ClvAnalysisReport {
        let started = Date()
        guard let purpose = policy.purpose(name) else {
            throw ConsentError.unknownPurpose(name, declared: policy.purposes.map(\.name))
        }
        let today = Int(PurchaseDay.day(of: now))
        if let calibrationEnd, calibrationEnd >= today { throw AnalysisError.calibrationAfterNow(CivilCalendar.format(days: calibrationEnd)) }
        let people = try aggregates(now: now).people
        let excluded = try leftOutEverywhere()
        let (granted, objecting) = try consentInForce(at: now)
        let included = Self.holds(purpose, granted: granted, objecting: objecting)
        var purchases: [Purchase] = []
        for (subject, aggregate) in people where !excluded.contains(subject) && included(subject) {
            for day in aggregate.purchaseDays.days where Int(day.day) <= today {
                purchases.append(Purchase(customer: subject.hex, day: Int(day.day), value: day.spend))
            }
        }
        let end = calibrationEnd ?? today
        let split = CalibrationSplit(purchases, calibrationEnd: end, holdoutEnd: today, unit: unit)
        guard split.histories.count >= CustomerAnalysis.minimumBuyers else {
            throw AnalysisError.tooFewBuyers(purpose: name, buyers: split.histories.count, needed: CustomerAnalysis.minimumBuyers)
        }
        let fit = BGNBD.fit(split.histories)
        let repeaters = split.histories.count(where: \.hasRepeatSpend)
        let spend = repeaters >= CustomerAnalysis.minimumRepeaters ? GammaGamma.fit(split.histories) : nil
        var report = ClvAnalysisReport(purpose: name, unit: unit, calibrationEnd: end, holdoutEnd: today, customers: split.histories.count,
                                       repeatCustomers: repeaters, purchases: fit, spend: spend, holdout: nil,
                                       minimumGroupSize: policy.minimumGroupSize, seconds: 0)
        if calibrationEnd != nil {
            var check = HoldoutCheck(model: fit.model, split: split, horizon: Double(today - end) / unit.days)
            let shown = check.rows.filter { $0.customers >= policy.minimumGroupSize }
            report.suppressedRows = check.rows.count - shown.count
            check.rows = shown
            report.holdout = check
        }
        report.seconds = Date().timeIntervalSince(started)
        try vault.audit(.analyzeCLV, purpose: name, target: "analysis:clv", rows: report.customers,
                        reason: "BG/NBD and Gamma-Gamma over \(report.customers) customers, calibration to \(CivilCalendar.format(days: end))")
        return report
    }
}
