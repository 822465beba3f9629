import CofferDemo
import Foundation
import Testing
@testable import CofferIngest
import CofferFormats

/// The byte-level JSON reader must accept and refuse what JSONSerialization
/// does, read the same values, and give the canonical bytes the dedup key
/// is computed over.
@Suite struct JSONReaderTests {
    /// Foundation's reading of `bytes`, in the reader's terms (nil when it refuses them).
    static func foundation(_ bytes: [UInt8]) -> JSONValue? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return nil }
        return try? JSONValue(any: object)
    }

    static let edgeCases: [String] = [
        #"{"a":1.0,"b":1e2,"c":-0,"d":12345678901234567890,"e":0.1,"h":1.5e-7,"i":-12.25,"j":-1.5E+3,"k":1e23}"#,
        #"{"f":[1,"x",null,true,false,{"z":1,"a":2},[]],"o":{}}"#,
        #"{"g":"é\u00e9\n\t\"\\\/\b\f\r","k\u0000":"\ud83d\ude00","emoji":"😀 Acme"}"#,
        "  {\"spaced\" : [ 1 , 2 ] }\r\n",
        #"{"a":1,"a":2}"#,
        #"[{"inside":"an array"}]"#,
    ]

    static let refused: [String] = [
        "{", "}", #"{"a" 1}"#, #"{'a':1}"#, "42", #""text""#, "null", "{} {}",
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":+1}"#, #"{"a":1E400}"#,
        #"{"a":"\x"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"tab\there\"}",
        #"{"a":tru}"#, #"{"a":nul}"#, String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]

    @Test("reads what JSONSerialization reads: the demo data, and edge cases of numbers, escapes and nesting")
    func agreesWithFoundation() throws {
        var configuration = DemoConfiguration()
        configuration.customers = 150
        let lines = DemoGenerator.generate(configuration).segmentLines.map(\.bytes) + Self.edgeCases.map { Array($0.utf8) }
        var compared = 0
        for bytes in lines {
            let expected = Self.foundation(bytes)
            let actual = try? JSONReader.document(bytes)
            #expect(actual == expected, "\(String(decoding: bytes, as: UTF8.self))")
            if expected != nil { compared += 1 }
        }
        #expect(compared > 1000)
    }

    @Test("refuses what is not JSON, as JSONSerialization does", arguments: refused)
    func refuses(_ text: String) {
        #expect(throws: JSONReader.Failure.invalid) { try JSONReader.document(Array(text.utf8)) }
        #expect(Self.foundation(Array(text.utf8)) == nil)
    }

    @Test("refuses trailing commas, which RFC 8259 does not allow (JSONSerialization on Linux lets them pass)")
    func refusesTrailingCommas() {
        for text in ["[1,]", #"{"a":1,}"#, #"{"a":[1,2,],"b":1}"#] {
            #expect(throws: JSONReader.Failure.invalid) { try JSONReader.document(Array(text.utf8)) }
        }
    }

    @Test("refuses invalid UTF-8 inside and outside escapes")
    func refusesInvalidUTF8() {
        let broken: [[UInt8]] = [
            Array(#"{"a":""#.utf8) + [0xff] + Array(#""}"#.utf8),
            Array(#"{"a":"\n"#.utf8) + [0xc3] + Array(#""}"#.utf8),
            Array(#"{"a":""#.utf8) + [0xed, 0xa0, 0x80] + Array(#""}"#.utf8),  // an encoded surrogate
        ]
        for bytes in broken {
            #expect(throws: JSONReader.Failure.invalid) { try JSONReader.document(bytes) }
        }
    }

    @Test("canonical bytes: keys sorted by UTF-8, numbers in their shortest form, strings escaped minimally")
    func canonicalBytes() throws {
        let cases: [(String, String)] = [
            (#"{"b":1.0,"a":1e2,"c":-0,"d":12345678901234567890,"e":0.10,"f":1.5e-7,"g":1e23,"h":0.30000000000000004}"#,
             #"{"a":100,"b":1,"c":0,"d":12345678901234567890,"e":0.1,"f":1.5e-07,"g":1e+23,"h":0.30000000000000004}"#),
            (#"{"é":1,"z":2,"Z":3,"a":[true,null,{"y":1,"x":2}]}"#, #"{"Z":3,"a":[true,null,{"x":2,"y":1}],"z":2,"é":1}"#),
            (#"{"s":"a\/b\u00e9\"\\\n\t\u0001"}"#, #"{"s":"a/bé\"\\\n\t\u0001"}"#),
            (#"{"a":1,"a":2}"#, #"{"a":2}"#),
        ]
        for (input, expected) in cases {
            let value = try JSONReader.document(Array(input.utf8))
            #expect(String(decoding: CanonicalJSON.data(value), as: UTF8.self) == expected)
        }
    }

    @Test("object keys in any order come out sorted by their UTF-8 bytes (prefixes first, the empty key first of all)")
    func canonicalKeyOrder() throws {
        let keys = ["ab", "a", "", "b", "~", "é", "Z", "a b", "ä", "日本", "\u{1F600}", "aa"]
        let expected = keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<50 {
            let shuffled = keys.shuffled(using: &generator)
            let value = try JSONReader.document(Array(("{" + shuffled.map { #""\#($0)":true"# }.joined(separator: ",") + "}").utf8))
            let written = String(decoding: CanonicalJSON.data(value), as: UTF8.self)
            let order = try #require(try JSONReader.document(Array(written.utf8)).object).members.map(\.key)
            #expect(order == expected, "\(shuffled)")
        }
    }

    @Test("values built in code or by JSONSerialization write the same canonical bytes; NaN and other types are refused")
    func canonicalBytesOfAnyValues() throws {
        let built: [String: Any] = ["z": [1, Int64(2), 2.0, 2.5, true, NSNull(), "a\"b"] as [Any], "a": ["y": false, "x": "é"] as [String: Any]]
        #expect(String(decoding: try CanonicalJSON.data(built), as: UTF8.self)
            == #"{"a":{"x":"é","y":false},"z":[1,2,2,2.5,true,null,"a\"b"]}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"b":true,"n":1.50,"u":18446744073709551615,"i":-3,"o":{}}"#.utf8))
        #expect(String(decoding: try CanonicalJSON.data(parsed), as: UTF8.self) == #"{"b":true,"i":-3,"n":1.5,"o":{},"u":18446744073709551615}"#)
        #expect(throws: Rejection("invalid JSON: numbers must be finite")) { try CanonicalJSON.data(["x": Double.nan]) }
        #expect(throws: Rejection("invalid JSON: values cannot be encoded")) { try CanonicalJSON.data(["x": Date()]) }
    }

    @Test("JSON Lines split the same, with the same lines and offsets, whatever the read size")
    func lineSplitterAcrossChunks() throws {
        let text = "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":\n3}\n{\"d\":4}"
        let bytes = Array(text.utf8)
        func split(chunk size: Int) -> [String] {
            var splitter = LineSplitter()
            var records: [String] = []
            let collect = { (record: SourceRecord) in
                records.append("\(record.line):\(record.byteOffset):\(String(decoding: record.bytes, as: UTF8.self))")
            }
            var start = 0
            while start < bytes.count {
                splitter.feed(bytes[start..<min(start + size, bytes.count)], emit: collect)
                start += size
            }
            splitter.finish(emit: collect)
            return records
        }
        let expected = ["1:0:{\"a\":1}", "4:13:{\"b\":2}", "5:21:{\"c\":", "6:27:3}", "7:30:{\"d\":4}"]
        for size in [1, 2, 3, 7, 64, bytes.count] {
            #expect(split(chunk: size) == expected, "chunks of \(size)")
        }
    }
}
