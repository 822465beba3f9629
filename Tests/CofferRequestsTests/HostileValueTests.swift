import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing
import CofferFormats

/// Issue 15, class 1: no accepted number can make a build or an export trap.
struct HostileValueTests {
    static let hostile = """
        {"type":"identify","userId":"u2","timestamp":"2026-01-02T00:00:00Z","traits":{"age":1e20}}
        {"type":"identify","userId":"u2","timestamp":"2026-01-03T00:00:00Z","traits":{"loyaltyPoints":1e30}}
        {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-01-04T00:00:00Z","properties":{"revenue":1.5e308}}
        {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-01-05T00:00:00Z","properties":{"revenue":1.5e308}}
        {"type":"identify","userId":"u2","timestamp":"2026-01-06T00:00:00Z","context":{"traits":{"age":"-4"}},"type":"page"}
        """

    @Test("out-of-range numbers are quarantined at ingest with a reason, by field, and the policy can set the ranges")
    func rangesAtIngest() throws {
        let fixture = try RequestFixture()
        let report = try fixture.ingest(Self.hostile + "\n" + #"{"type":"page","userId":"u2","timestamp":"2026-01-07T00:00:00Z"}"#)
        #expect(report.quarantined == 5 && report.accepted == 1)
        #expect(Set(report.reasons.keys) == [
            "out of range: traits.age must be between 0 and 150",
            "out of range: traits.loyaltyPoints must be between 0 and 1000000000",
            "out of range: properties.revenue must be between -1000000000 and 1000000000",
            "out of range: context.traits.age must be between 0 and 150",
        ])
        fixture.policy.numericLimits = ["traits.age": 0...120]
        let parser = SegmentParser(limits: NumericLimit.merged(with: fixture.policy.numericLimits))
        #expect(throws: Rejection("out of range: traits.age must be between 0 and 120")) {
            try parser.parse(Array(#"{"type":"identify","userId":"x","traits":{"age":121}}"#.utf8)).get()
        }
        #expect(throws: Never.self) { try parser.parse(Array(#"{"type":"identify","userId":"x","traits":{"age":120}}"#.utf8)).get() }
        let policy = try PolicyLoader.parse("""
            purposes: { analytics: { lawful_basis: legitimate_interests } }
            field_classes: { behavioural: [age] }
            access: { analyst: { purposes: { analytics: { behavioural: allow } } } }
            limits: { traits.age: [18, 99] }
            """, file: "p.yaml")
        #expect(policy.numericLimits == ["traits.age": 18...99])
        #expect(throws: PolicyError.self) { try PolicyLoader.parse("""
            purposes: { analytics: { lawful_basis: legitimate_interests } }
            field_classes: { behavioural: [age] }
            access: { analyst: { purposes: { analytics: { behavioural: allow } } } }
            limits: { traits.age: [99, 18] }
            """, file: "p.yaml") }
    }

    @Test("an event that breaks several limits is refused for the first in the limits' order, whatever the order of its fields")
    func firstLimitInOrder() throws {
        let parser = SegmentParser()
        for event in [#"{"type":"identify","userId":"x","properties":{"revenue":1e12},"traits":{"age":200}}"#,
                      #"{"type":"identify","userId":"x","traits":{"age":200},"properties":{"revenue":1e12}}"#] {
            #expect(throws: Rejection("out of range: traits.age must be between 0 and 150")) { try parser.parse(Array(event.utf8)).get() }
        }
        // The age limit's second path (inside context) comes before the loyalty points' limit.
        let nested = #"{"type":"identify","userId":"x","traits":{"loyaltyPoints":-5},"context":{"traits":{"age":"-1"}}}"#
        #expect(throws: Rejection("out of range: context.traits.age must be between 0 and 150")) { try parser.parse(Array(nested.utf8)).get() }
        // A path's key one level off is not the limit's field; in range, or not a number, passes.
        for event in [#"{"type":"track","userId":"x","event":"e","properties":{"traits":{"age":500}}}"#,
                      #"{"type":"track","userId":"x","event":"e","properties":{"revenue":"n/a","quantity":3}}"#] {
            #expect(throws: Never.self) { try parser.parse(Array(event.utf8)).get() }
        }
    }

    @Test("a vault that holds huge values (wider limits, or from before the check) still builds and exports")
    func hugeStoredValuesStillBuildAndExport() throws {
        let fixture = try RequestFixture()
        fixture.policy.numericLimits = ["traits.age": 0...1e30, "traits.loyaltyPoints": 0...1e31,
                                        "properties.revenue": -1e308...1.7e308]
        let report = try fixture.ingest(Self.hostile)
        #expect(report.accepted == 4, "\(report.reasons)")
        try fixture.build()
        let bo = try #require(try fixture.supportRows()["bo@example.com"])
        #expect(bo["age"] == .null)
        #expect(bo["total_spend"] == .null, "1.5e308 twice overflows to infinity: no value, not a trap")
        #expect(bo["avg_spend"] == .null)
        let out = fixture.directory.appendingPathComponent("bo.zip")
        let result = try fixture.desk().export(subject: RequestFixture.bo, to: out)
        #expect(result.found)
        let files = try BundleVerifier.files(out)
        let view = try JSONSerialization.jsonObject(with: Data(try #require(files["single_view.json"])))
        #expect(view is [String: Any] || view is [[String: Any]])
        // Rectification cannot store what ingest refuses.
        #expect(throws: RequestError.self) { try RequestDesk.corrections(["age=1e20"]) }
        #expect(throws: RequestError.self) { try RequestDesk.corrections(["loyaltyPoints=-1"]) }
        #expect(try RequestDesk.corrections(["age=41"]) == ["age": "41"])
    }
}
