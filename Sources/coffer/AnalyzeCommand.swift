import ArgumentParser
import CofferAnalysis
import CofferFormats
import CofferProjection
import Foundation

extension TimeUnit: ExpressibleByArgument {}

/// `coffer analyze`
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Fit and check the customer models behind the projections' analysis columns.",
        subcommands: [Clv.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    struct Clv: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fit BG/NBD and Gamma-Gamma over a purpose's customers and check the forecast on a holdout (owner only).",
            discussion: """
                Purchases are counted per day, as the BG/NBD paper does (several on one day are one, worth their \
                sum), for the people the purpose may hold now: consent in force, or no objection; restricted and \
                erased people are left out. With --calibration-end, the models are fitted on purchases up to that \
                day and their forecast of the purchases after it, up to today, is set against what happened, by \
                number of repeat purchases in the calibration period. Rows of fewer customers than the policy's \
                minimum group size are left out. Audited as analyze-clv.
                """
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("The purpose whose customers to fit.", valueName: "PURPOSE")) var purpose: String
        @Option(help: ArgumentHelp("Fit on purchases up to this day (YYYY-MM-DD, UTC) and check the forecast after it.",
                                   valueName: "DATE"))
        var calibrationEnd: String?
        @Option(help: "The unit the parameters are given in: day or week (the paper's).") var timeUnit: TimeUnit = .day
        @Option(help: "table or json.") var format: Format = .table

        func validate() throws {
            if let calibrationEnd, Self.day(calibrationEnd) == nil {
                throw ValidationError("--calibration-end must be a date like 2026-06-30")
            }
        }

        static func day(_ text: String) -> Int? {
            Timestamp.parse(text + "T00:00:00Z").map { Int(CivilCalendar.days($0)) }
        }

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: [])
            let report = try builder.analyzeCLV(purpose: purpose, calibrationEnd: calibrationEnd.flatMap(Self.day), unit: timeUnit)
            switch format {
            case .table: table(report)
            case .json: Terminal.line(String(decoding: try CanonicalJSON.data(json(report)), as: UTF8.self))
            }
        }

        private func table(_ report: ClvAnalysisReport) {
            let bg = report.purchases, model = bg.model
            Terminal.line("Customers: \(report.customers) who bought by \(CivilCalendar.format(days: report.calibrationEnd)) "
                + "(\(report.repeatCustomers) bought again); purpose \(report.purpose); time unit: \(report.unit.rawValue)")
            Terminal.line(String(format: "BG/NBD        r = %.4g  alpha = %.4g  a = %.4g  b = %.4g", model.r, model.alpha, model.a, model.b))
            Terminal.line(String(format: "              log-likelihood %.1f, %@ after %d iterations%@", bg.logLikelihood,
                                 bg.converged ? "converged" : "NOT converged", bg.iterations,
                                 bg.atBound ? " (a parameter at its bound: the data show no drop-out or no variation there)" : ""))
            if let spend = report.spend {
                let gg = spend.model
                Terminal.line(String(format: "Gamma-Gamma   p = %.4g  q = %.4g  gamma = %.4g", gg.p, gg.q, gg.gamma))
                Terminal.line(String(format: "              log-likelihood %.1f, %@ after %d iterations%@", spend.logLikelihood,
                                     spend.converged ? "converged" : "NOT converged", spend.iterations, spend.atBound ? " (at a bound)" : ""))
            } else {
                Terminal.line("Gamma-Gamma   not fitted: fewer than \(ClvAnalysisReport.minimumRepeaters) customers bought again with a spend")
            }
            guard let holdout = report.holdout else {
                Terminal.line("No holdout check: pass --calibration-end DATE to fit on the purchases before it and compare after.")
                return
            }
            Terminal.line(String(format: "Holdout %@ to %@ (%.1f %@s): purchases per customer, actual against the model's forecast",
                                 CivilCalendar.format(days: report.calibrationEnd + 1), CivilCalendar.format(days: report.holdoutEnd),
                                 holdout.horizon, report.unit.rawValue))
            Terminal.line("  repeat purchases  customers    actual  expected")
            let last = holdout.rows.map(\.repeatPurchases).max() ?? 0
            for row in holdout.rows {
                let label = row.repeatPurchases == 7 && row.repeatPurchases == last ? "7+" : String(row.repeatPurchases)
                let padded = String(repeating: " ", count: max(0, 16 - label.count)) + label
                Terminal.line(padded.withCString { String(format: "  %s  %9d  %8.3f  %8.3f", $0, row.customers, row.actual, row.expected) })
            }
            if report.suppressedRows > 0 {
                Terminal.line("  (\(report.suppressedRows) row(s) of fewer than \(report.minimumGroupSize) customers left out)")
            }
        }

        private func json(_ report: ClvAnalysisReport) -> [String: Any] {
            var object: [String: Any] = [
                "purpose": report.purpose, "time_unit": report.unit.rawValue, "customers": report.customers,
                "repeat_customers": report.repeatCustomers, "calibration_end": CivilCalendar.format(days: report.calibrationEnd),
                "bgnbd": ["r": report.purchases.model.r, "alpha": report.purchases.model.alpha, "a": report.purchases.model.a,
                          "b": report.purchases.model.b, "log_likelihood": report.purchases.logLikelihood,
                          "converged": report.purchases.converged, "iterations": report.purchases.iterations,
                          "at_bound": report.purchases.atBound],
            ]
            if let spend = report.spend {
                object["gamma_gamma"] = ["p": spend.model.p, "q": spend.model.q, "gamma": spend.model.gamma,
                                         "log_likelihood": spend.logLikelihood, "converged": spend.converged,
                                         "iterations": spend.iterations, "at_bound": spend.atBound]
            }
            if let holdout = report.holdout {
                object["holdout"] = [
                    "end": CivilCalendar.format(days: report.holdoutEnd), "length": holdout.horizon,
                    "suppressed_rows": report.suppressedRows,
                    "rows": holdout.rows.map { ["repeat_purchases": $0.repeatPurchases, "customers": $0.customers,
                                                "actual": $0.actual, "expected": $0.expected] as [String: Any] },
                ]
            }
            return object
        }
    }
}
