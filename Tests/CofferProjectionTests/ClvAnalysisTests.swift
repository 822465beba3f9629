import CofferAnalysis
import CofferFormats
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import Testing
import CofferTestSupport

/// `coffer analyze clv` end to end: the CDNOW sample of the BG/NBD paper, ingested
/// into a vault as Segment events, gives the paper's parameters through the product.
struct ClvAnalysisTests {
    @Test("CDNOW through a vault: the paper's BG/NBD parameters and log-likelihood, Gamma-Gamma's, and the holdout check")
    func cdnowThroughTheVault() throws {
        let scratch = try ScratchVault("clv")
        let vault = try scratch.create()
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let text = try String(contentsOf: ScratchVault.repository.appendingPathComponent("Tests/Fixtures/cdnow/CDNOW_sample.txt"), encoding: .utf8)
        // Moved in time so that the holdout ends today: older events would be past the policy's
        // retention and refused at ingest. Days between purchases are kept, so the fit is the paper's.
        let now = EventLog.now()
        let today = CivilCalendar.days(now)
        let shift = today - CivilCalendar.daysFromCivil(year: 1998, month: 7, day: 1)
        func day(_ text: Substring) -> Int {
            CivilCalendar.daysFromCivil(year: Int(text.prefix(4))!, month: Int(text.dropFirst(4).prefix(2))!, day: Int(text.suffix(2))!) + shift
        }
        var lines: [String] = []
        for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard fields.count == 5 else { continue }
            let time = Timestamp.format(Int64(day(fields[2])) * CivilCalendar.dayMillis + 12 * 3_600_000)
            lines.append(#"{"type":"track","event":"Order Completed","userId":"cdnow-\#(fields[0])","messageId":"m\#(index)","timestamp":"\#(time)","properties":{"revenue":\#(fields[4])}}"#)
        }
        let input = scratch.directory.appendingPathComponent("cdnow.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let ingested = try Ingestor(vault: vault, policy: policy).ingest(path: input.path)
        #expect(ingested.accepted == 6919, "\(ingested)")

        let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: [])
        let report = try builder.analyzeCLV(purpose: "analytics", calibrationEnd: day("19970930"), unit: .week, now: now)
        #expect(report.customers == 2357)
        let model = report.purchases.model
        #expect(abs(model.r - 0.243) < 0.0005 && abs(model.alpha - 4.414) < 0.005 && abs(model.a - 0.793) < 0.0005
                && abs(model.b - 2.426) < 0.005, "\(model)")
        #expect(abs(report.purchases.logLikelihood - -9582.4) <= 0.1)
        let spend = try #require(report.spend?.model)
        #expect(abs(spend.p - 6.25) < 0.05 && abs(spend.q - 3.74) < 0.05 && abs(spend.gamma - 15.44) < 0.1, "\(spend)")
        let holdout = try #require(report.holdout)
        #expect(holdout.rows.first?.repeatPurchases == 0 && (holdout.rows.first?.customers ?? 0) > 1000)
        #expect(holdout.rows.allSatisfy { $0.customers >= policy.minimumGroupSize })
        // The model's forecast is close to what happened for the one-off buyers, the largest group (the paper's figure 5).
        #expect(abs(holdout.rows[0].expected - holdout.rows[0].actual) < 0.1)
        #expect(try vault.auditEntries(AuditFilter(action: .analyzeCLV)).count == 1)

        #expect(throws: AnalysisError.self) {
            try builder.analyzeCLV(purpose: "personalisation", calibrationEnd: nil, unit: .week, now: now)
        }
    }
}
