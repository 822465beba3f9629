import CofferFuzzTargets
import CofferProjection
import Foundation
import Testing

/// Replays the checked-in fuzz seed corpus (and any finding added to it)
/// through the same targets `scripts/fuzz` runs under libFuzzer, so a
/// regression on a known input is caught by the ordinary test suite.
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test("every fuzz target runs its seed corpus without a crash or a broken property", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let folder = Self.corpus.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        #expect(files.count >= 3, "seeds for \(target.rawValue)")
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            target.run(bytes)
            // Every prefix too: truncated input is the commonest broken input.
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) {
                target.run(Array(bytes[..<cut]))
            }
        }
    }
}

/// The fuzzer's first finding: a rule nested 10,000 deep overflowed the parser's stack.
struct RuleDepthTests {
    @Test("rules nested too deep or with too many comparisons are refused with a message, not a crash")
    func boundedRules() throws {
        let fields: Set<String> = ["shop_times"]
        #expect(throws: SegmentRuleError.self) {
            try SegmentRule.parse(String(repeating: "(", count: 10_000) + "shop_times > 1" + String(repeating: ")", count: 10_000),
                                  knownFields: fields)
        }
        #expect(throws: SegmentRuleError.self) {
            try SegmentRule.parse(String(repeating: "not ", count: 5_000) + "shop_times > 1", knownFields: fields)
        }
        #expect(throws: SegmentRuleError.self) {
            try SegmentRule.parse(Array(repeating: "shop_times > 1", count: 300).joined(separator: " and "), knownFields: fields)
        }
        // Ordinary nesting still parses.
        _ = try SegmentRule.parse(String(repeating: "(", count: 20) + "shop_times > 1" + String(repeating: ")", count: 20),
                                  knownFields: fields)
    }
}
