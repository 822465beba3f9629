import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing
import CofferFormats
import CofferTestSupport

struct SegmentRuleTests {
    let fields: Set<String> = ["shop_times", "avg_spend", "channels", "birthday_month"]

    @Test func testParsesAndEvaluates() throws {
        let rule = try SegmentRule.parse("shop_times >= 10 and (avg_spend > 15 or channels contains 'app') and not birthday_month == current_month",
                                         knownFields: fields)
        #expect(rule.fields == fields)
        let row: [String: Cell] = ["shop_times": .integer(12), "avg_spend": .real(9), "channels": .text("app,web"), "birthday_month": .integer(4)]
        #expect(rule.matches(row, currentMonth: 5))
        #expect(!(rule.matches(row, currentMonth: 4)))
        #expect(!(rule.matches(row.merging(["channels": .text("web")]) { $1 }, currentMonth: 5)))
        #expect(!(try SegmentRule.parse("avg_spend > 1", knownFields: fields).matches(["avg_spend": .null], currentMonth: 1)), "a missing value never matches")
    }

    /// The rule bound to a row layout, as builds evaluate it for every person of every file.
    @Test func testBoundRulesCompareNumbersNumericallyTextByCodePointsAndListsByItem() throws {
        let fields: Set<String> = ["shop_times", "gender", "channels", "postcode", "city"]
        let columns = ["shop_times": 0, "gender": 1, "channels": 2, "postcode": 3]
        let row: [Cell] = [.integer(9), .text("female"), .text("app,,web"), .text("10")]
        func matches(_ text: String, month: Int = 1) throws -> Bool {
            try SegmentRule.parse(text, knownFields: fields).bound(to: columns, currentMonth: month).matches(row)
        }
        #expect(try matches("shop_times < 10"), "9 < 10 as numbers")
        #expect(try matches("postcode > 9"), "text that reads as a number compares as one: \"10\" > 9")
        #expect(!(try matches("postcode < '9'")), "two texts that read as numbers compare numerically (as text \"10\" < \"9\")")
        #expect(try matches("gender == 'female' and gender > 'f'"), "text by code points")
        #expect(try matches("channels contains 'web'"))
        #expect(!(try matches("channels contains 'we'")), "whole items only")
        #expect(!(try matches("channels contains ''")), "empty items never match")
        #expect(!(try matches("city == 'Leeds'")), "a field not in the layout is missing")
        #expect(try matches("not city == 'Leeds'"), "and `not` of a missing comparison holds")
        #expect(try matches("shop_times == current_month", month: 9))
    }

    @Test func testErrorsSayWhereAndWhat() {
        let cases: [(String, Int, String)] = [
            ("shop_tims >= 10", 1, "unknown field 'shop_tims'"),
            ("shop_times 10", 12, "expected a comparison"),
            ("shop_times >= ", 15, "the rule ends where a field or value was expected"),
            ("channels == 'app", 13, "unterminated string"),
            ("(shop_times > 1", 16, "expected ')'"),
            ("shop_times => 1", 12, "unknown operator '=>'"),
            ("shop_times > 1 avg_spend", 16, "unexpected 'avg_spend'"),
        ]
        for (text, column, message) in cases {
            do { _ = try SegmentRule.parse(text, knownFields: fields); Issue.record("\(text)") } catch {
                let error = error as? SegmentRuleError
                #expect(error?.column == column, "\(text): \(String(describing: error))")
                #expect(error?.message.contains(message) == true, "\(text): \(String(describing: error))")
            }
        }
    }

    @Test func testTheShippedSegmentsLoad() throws {
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path, policy: policy, required: true)
        #expect(segments.map(\.name) == ["champions", "loyal_regulars", "cant_lose_them", "high_value_next_year", "birthday_this_month",
                                          "lapsing_customers", "online_orderers", "app_adopters", "social_advocates", "happy_reviewers",
                                          "promo_email_responders", "beans_cross_sell", "told_us_birthday", "instore_only", "app_prospects",
                                          "review_prospects"])
        do { _ = try SegmentCatalog.parse("segments:\n  x:\n    rule: avg_spend >> 3\n", file: "s.yaml",
                                                      fields: SegmentCatalog.fields(for: policy)); Issue.record("expected an error") } catch {
            #expect((error as? PolicyError)?.line == 3)
            #expect("\(error)".contains("unknown operator '>>'"), "\(error)")
        }
    }
}
