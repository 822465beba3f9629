import CofferIngest
import CofferPolicy
import CofferProjection
import Foundation
import CofferFormats

/// The parsers that read untrusted input, each as a function of raw bytes, for
/// the libFuzzer harness (`scripts/fuzz`) and for the test that replays the
/// seed corpus (`Tests/Fuzz/corpus`). Every target must return for any input:
/// a crash, a trap or a hang is a finding. Each also checks a property that
/// must hold whatever the input (a round trip, every byte accounted for).
package enum FuzzTarget: String, CaseIterable, Sendable {
    case jsonReader = "json-reader"
    case csvSplitter = "csv-splitter"
    case segmentValidator = "segment-validator"
    case policyLoader = "policy-loader"
    case segmentRule = "segment-rule"

    /// Runs the target on one input; a violated property stops the process.
    package func run(_ bytes: [UInt8]) {
        switch self {
        case .jsonReader: Self.jsonReader(bytes)
        case .csvSplitter: Self.splitters(bytes)
        case .segmentValidator: _ = SegmentParser(receivedAt: 0).parse(bytes)
        case .policyLoader: _ = try? PolicyLoader.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        case .segmentRule: Self.segmentRule(bytes)
        }
    }

    /// What is read must write back canonically and read again as the same value.
    static func jsonReader(_ bytes: [UInt8]) {
        guard let value = try? JSONReader.document(bytes) else { return }
        let canonical = CanonicalJSON.data(value)
        guard let again = try? JSONReader.document(canonical), again == value, CanonicalJSON.data(again) == canonical else {
            fatalError("canonical JSON does not read back as the same value")
        }
    }

    /// The CSV, JSON-array and line splitters, fed in two chunkings: the same
    /// records must come out, each within the input, in order.
    static func splitters(_ bytes: [UInt8]) {
        func split<S: RecordSplitter>(_ make: () -> S, chunk: Int) -> [String] {
            var splitter = make()
            var out: [String] = []
            var lastOffset = -1
            let emit = { (record: SourceRecord) in
                precondition(record.byteOffset > lastOffset && record.byteOffset + record.length <= bytes.count,
                             "a record outside the input or out of order")
                precondition(record.bytes.count <= record.length && record.bytes.count <= SegmentParser.maxEventBytes)
                lastOffset = record.byteOffset
                out.append("\(record.line):\(record.byteOffset):\(record.length):\(record.readError ?? "")")
                if let fields = CSVFields.split(record.bytes) { precondition(!fields.isEmpty) }
            }
            var start = 0
            while start < bytes.count {
                splitter.feed(bytes[start..<min(start + chunk, bytes.count)], emit: emit)
                start += chunk
            }
            splitter.finish(emit: emit)
            precondition(splitter.unattributed.count <= bytes.count)
            return out
        }
        func check<S: RecordSplitter>(_ make: () -> S) {
            precondition(split(make, chunk: 1 + bytes.count / 3) == split(make, chunk: 7), "records depend on the read size")
        }
        check { CSVSplitter() }
        check { ArraySplitter() }
        check { LineSplitter() }
    }

    static let ruleFields: Set<String> = ["shop_times", "avg_spend", "channels", "birthday_month", "total_spend", "recency"]

    static func segmentRule(_ bytes: [UInt8]) {
        guard let rule = try? SegmentRule.parse(String(decoding: bytes, as: UTF8.self), knownFields: ruleFields) else { return }
        for row: [String: Cell] in [
            [:],
            ["shop_times": .integer(3), "avg_spend": .real(.infinity), "channels": .text("app,web"), "birthday_month": .null,
             "total_spend": .real(-1e308), "recency": .integer(Int.max)],
        ] {
            _ = rule.matches(row, currentMonth: 5)
        }
    }
}
