@testable import CofferIngest
import Foundation
import Testing

/// Issue 15, class 4 and 6: every input unit is accounted for, a broken record
/// never swallows the ones after it, and one huge record cannot take memory.
struct SplitterResyncTests {
    struct Split: Equatable {
        var records: [String] = []
        var errors: [String?] = []
        var lines: [Int] = []
        var unattributed = 0
    }

    static func split<S: RecordSplitter>(_ make: () -> S, _ text: String, chunk: Int = 7) -> Split {
        let bytes = Array(text.utf8)
        var splitter = make()
        var result = Split()
        let collect = { (record: SourceRecord) in
            result.records.append(String(decoding: record.bytes, as: UTF8.self))
            result.errors.append(record.readError)
            result.lines.append(record.line)
        }
        var start = 0
        while start < bytes.count {
            splitter.feed(bytes[start..<min(start + chunk, bytes.count)], emit: collect)
            start += chunk
        }
        splitter.finish(emit: collect)
        result.unattributed = splitter.unattributed.count
        return result
    }

    static func array(_ count: Int, breaking index: Int, with broken: String) -> String {
        (0..<count).map { $0 == index ? broken : #"{"type":"page","userId":"u\#($0)"}"# }.joined(separator: ",\n")
    }

    @Test("a stray } in one element of a JSON array quarantines that element only; the rest still split")
    func strayBrace() {
        let text = "[" + Self.array(1000, breaking: 1, with: #"{"type":"page","userId":"x"}}"#) + "]"
        for chunk in [1, 5, 4096] {
            let result = Self.split(ArraySplitter.init, text, chunk: chunk)
            #expect(result.records.count == 1000, "chunk \(chunk)")
            #expect(result.errors.compactMap { $0 } == [ArraySplitter.unbalanced])
            #expect(result.errors[1] != nil && result.errors[0] == nil && result.errors[999] == nil)
            #expect(result.unattributed == 0)
        }
    }

    @Test("a missing } ends the element where the next one starts, not at the end of the file")
    func missingBrace() {
        for broken in [#"{"type":"page","userId":"x""#, #"{"type":"page","traits":{"a":1}"#, #"{"a":{"b":[1,2]"#] {
            let text = "[" + Self.array(50, breaking: 3, with: broken) + "]"
            let result = Self.split(ArraySplitter.init, text)
            #expect(result.records.count == 50, "\(broken)")
            #expect(result.errors.enumerated().filter { $0.element != nil }.map(\.offset) == [3], "\(broken)")
            #expect(result.records[4] == #"{"type":"page","userId":"u4"}"#)
        }
    }

    @Test("mismatched brackets and a stray ] keep the following elements, and stray bytes are counted")
    func mismatchedAndStray() {
        let mismatched = Self.split(ArraySplitter.init, #"[{"a":[1,2}},{"b":1},{"c":2}]"#)
        #expect(mismatched.records == [#"{"a":[1,2}}"#, #"{"b":1}"#, #"{"c":2}"#])
        #expect(mismatched.errors.map { $0 != nil } == [true, false, false])

        let strayClose = Self.split(ArraySplitter.init, #"[{"a":1}],{"b":1}]"#)
        #expect(strayClose.records == [#"{"a":1}"#, #"{"b":1}"#])
        #expect(strayClose.unattributed == 1)

        let outside = Self.split(ArraySplitter.init, "junk [{\"a\":1}] more")
        // Text after the `]` reopens the array: it becomes a (bad) record, and the `]` is the stray byte.
        #expect(outside.records == [#"{"a":1}"#, "more"])
        #expect(outside.unattributed == "junk".count + 1)

        let notAnArray = Self.split(ArraySplitter.init, #"{"type":"page"}"#)
        #expect(notAnArray.records.isEmpty && notAnArray.unattributed == 15)

        let deep = Self.split(ArraySplitter.init, "[" + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000) + ",{\"b\":1}]")
        #expect(deep.records.count == 2 && deep.errors[0] != nil && deep.errors[1] == nil)
    }

    @Test("CSV: a stray quote inside an unquoted field does not swallow the rows after it")
    func csvStrayQuote() {
        let rows = (0..<100).map { $0 == 2 ? #"c2,ab"cd,3"# : "c\($0),x,\($0)" }.joined(separator: "\n") + "\n"
        let result = Self.split({ CSVSplitter() }, rows)
        #expect(result.records.count == 100)
        #expect(result.records[2] == #"c2,ab"cd,3"#)
        #expect(CSVFields.split(Array(result.records[2].utf8)) == nil)
        #expect(result.lines[99] == 100)
    }

    @Test("CSV: a quote that never closes costs its own line only, at the end of the file or after 32 KB")
    func csvUnterminatedQuote() {
        let rows = (0..<200).map { $0 == 5 ? #"c5,"open,3"# : "c\($0),x,\($0)" }.joined(separator: "\r\n")
        let result = Self.split({ CSVSplitter() }, rows)
        #expect(result.records.count == 200)
        #expect(result.errors.enumerated().filter { $0.element != nil }.map(\.offset) == [5])
        #expect(result.errors[5] == CSVSplitter.unterminated)
        #expect(result.records[6] == "c6,x,6" && result.lines[6] == 7)

        // Past 32 KB of rows the quote is given up on while reading, not only at the end.
        let many = (0..<5000).map { $0 == 1 ? #"c1,"open,3"# : "c\($0),x,\($0)" }.joined(separator: "\n") + "\n"
        let big = Self.split({ CSVSplitter() }, many, chunk: 4096)
        #expect(big.records.count == 5000)
        #expect(big.errors.compactMap { $0 } == [CSVSplitter.unterminated])
        #expect(big.lines == Array(1...5000))

        // Quoted fields that hold line breaks and doubled quotes still work.
        let quoted = Self.split({ CSVSplitter() }, "a,\"line\nbreak \"\"q\"\"\",1\nb,2,3\n")
        #expect(quoted.records == ["a,\"line\nbreak \"\"q\"\"\",1", "b,2,3"])
        #expect(quoted.errors == [nil, nil] && quoted.lines == [1, 3])
    }

    @Test("CR-only and CR LF line endings split records, with the right line numbers")
    func carriageReturns() {
        for chunk in [1, 2, 3, 100] {
            let lines = Self.split(LineSplitter.init, "{\"a\":1}\r{\"b\":2}\r\n{\"c\":3}\r\r{\"d\":4}", chunk: chunk)
            #expect(lines.records == [#"{"a":1}"#, #"{"b":2}"#, #"{"c":3}"#, #"{"d":4}"#], "chunk \(chunk)")
            #expect(lines.lines == [1, 2, 3, 5], "chunk \(chunk)")
            let csv = Self.split({ CSVSplitter() }, "h1,h2\ra,1\rb,2\r\nc,3", chunk: chunk)
            #expect(csv.records == ["h1,h2", "a,1", "b,2", "c,3"], "chunk \(chunk)")
            #expect(csv.lines == [1, 2, 3, 4], "chunk \(chunk)")
        }
    }

    @Test("a record over 32 KB keeps only its first 32 KB in memory and is flagged; the next one is whole")
    func oversizedRecord() {
        let huge = "{\"type\":\"page\",\"userId\":\"u\",\"pad\":\"" + String(repeating: "x", count: 300_000) + "\"}"
        for make in [{ LineSplitter() as any RecordSplitter }, { CSVSplitter() as any RecordSplitter }] {
            var splitter = make()
            var records: [SourceRecord] = []
            let text = Array((huge + "\n{\"type\":\"page\",\"userId\":\"v\"}\n").utf8)
            var start = 0
            while start < text.count {
                splitter.feed(text[start..<min(start + 65536, text.count)]) { records.append($0) }
                start += 65536
            }
            splitter.finish { records.append($0) }
            #expect(records.count == 2)
            #expect(records[0].bytes.count == PendingRecord.defaultLimit)
            #expect(records[0].length == huge.utf8.count)
            #expect(records[0].readError == PendingRecord.tooLarge)
            #expect(records[1].readError == nil && records[1].line == 2)
        }
        let array = Self.split(ArraySplitter.init, "[" + huge + ",{\"b\":1}]")
        #expect(array.records.count == 2 && array.errors[0] == PendingRecord.tooLarge && array.errors[1] == nil)
    }
}
