import CofferFormats
import CofferIngest
import CofferPolicy
import CofferStore
import CofferTestSupport
import Foundation
import Testing
import GRDB

struct SegmentIngestTests {
    @Test("every Segment type lands, linked to one subject by userId")
    func everyType() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("all.jsonl", jsonl([
            ["type": "identify", "userId": "u1", "messageId": "m1", "timestamp": "2026-01-01T10:00:00Z",
             "traits": ["email": "Ann@Example.com", "name": "Ann"]],
            ["type": "track", "userId": "u1", "messageId": "m2", "event": "Order Completed", "timestamp": "2026-01-01T10:05:00Z",
             "properties": ["revenue": 9.5]],
            ["type": "page", "userId": "u1", "messageId": "m3", "name": "Home", "timestamp": "2026-01-01T10:06:00Z"],
            ["type": "screen", "userId": "u1", "messageId": "m4", "name": "Menu", "timestamp": "2026-01-01T10:07:00Z"],
            ["type": "group", "userId": "u1", "messageId": "m5", "groupId": "g1", "timestamp": "2026-01-01T10:08:00Z"],
            ["type": "alias", "userId": "u1", "previousId": "old-1", "messageId": "m6", "timestamp": "2026-01-01T10:09:00Z"],
        ]))
        let report = try fixture.ingest(path)
        #expect(report.accepted == 6 && report.quarantined == 0 && report.subjectsCreated == 1)
        let summary = try #require(try fixture.summary("user:u1"))
        #expect(summary.eventCounts == [.identify: 1, .track: 1, .page: 1, .screen: 1, .group: 1, .alias: 1])
        #expect(try fixture.summary("email:ann@example.com")?.subject == summary.subject)
        #expect(try fixture.summary("anon:old-1")?.subject == summary.subject)
    }

    @Test("normalisation: trimmed ids, lower-case email, E.164 phone, UTC timestamps")
    func normalisation() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("n.jsonl", jsonl([
            ["type": "identify", "userId": "  u7 ", "timestamp": "2026-03-01T12:30:00.5+02:00",
             "traits": ["email": "  Bob.Stone@Example.ORG ", "phone": "0044 (20) 7946-0958"]],
        ]))
        #expect(try fixture.ingest(path).accepted == 1)
        let payload = try #require(try fixture.payloads("user:u7").first)
        #expect(payload["userId"] as? String == "u7")
        #expect(payload["timestamp"] as? String == "2026-03-01T10:30:00.500Z")
        let traits = try #require(payload["traits"] as? [String: Any])
        #expect(traits["email"] as? String == "bob.stone@example.org")
        #expect(traits["phone"] as? String == "+442079460958")
        #expect(try fixture.summary("phone:+44 20 7946 0958")?.subject != nil)
    }

    @Test("gender is stored in one spelling: F, Female and woman are female; M is male; NB is non-binary; others lower-cased")
    func genderNormalised() throws {
        let parser = SegmentParser(receivedAt: 0)
        func stored(_ gender: String, in traits: String = "traits") throws -> String? {
            let json = #"{"type":"identify","userId":"u","\#(traits)":{"gender":"\#(gender)"}}"#
            let event = try parser.parse(Array(json.utf8)).get()
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any])
            return (payload["traits"] as? [String: Any])?["gender"] as? String
        }
        for (written, expected) in [("F", "female"), (" Female ", "female"), ("woman", "female"), ("M", "male"), ("MALE", "male"),
                                    ("NB", "non-binary"), ("Non  Binary", "non-binary"), ("Prefer not to say", "prefer not to say")] {
            #expect(try stored(written) == expected, "\(written)")
        }
        #expect(TraitValues.gender("   ") == nil)
        // The one spellings come back as they are (the build's fast path), near misses still normalised.
        for spelling in ["female", "male", "non-binary"] { #expect(TraitValues.gender(spelling) == spelling) }
        #expect(TraitValues.gender("female ") == "female")
        #expect(TraitValues.gender("Non-Binary") == "non-binary")
    }

    @Test("event time: timestamp, else originalTimestamp, else sentAt")
    func eventTime() {
        let parser = SegmentParser(receivedAt: 0)
        func time(_ json: String) -> Int64? { try? parser.parse(Array(json.utf8)).get().timestamp }
        #expect(time(#"{"type":"page","userId":"u","sentAt":"2026-01-01T00:00:01Z"}"#) == 1_767_225_601_000)
        #expect(time(#"{"type":"page","userId":"u","sentAt":"2026-01-01T00:00:01Z","originalTimestamp":"2026-01-01T00:00:02Z"}"#)
            == 1_767_225_602_000)
        #expect(time(#"{"type":"page","userId":"u","sentAt":"2026-01-01T00:00:01Z","timestamp":"2026-01-01T00:00:03Z"}"#)
            == 1_767_225_603_000)
        #expect(time(#"{"type":"page","userId":"u"}"#) == 0)
    }

    @Test("a JSON array with elements across lines, strings with brackets and commas")
    func jsonArray() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("batch.json", """
            [
              {"type": "track", "userId": "u1", "event": "Note, [with] {brackets}",
               "properties": {"text": "a \\"quoted\\" ] value"}, "timestamp": "2026-01-01T00:00:00Z"},
              {"type": "page", "anonymousId": "a1", "timestamp": "2026-01-01T00:01:00Z"}
            ]
            """)
        let report = try fixture.ingest(path)
        #expect(report.accepted == 2 && report.quarantined == 0)
        #expect(try fixture.payloads("user:u1").first?["event"] as? String == "Note, [with] {brackets}")
    }

    @Test("importing the same file twice adds nothing; duplicates by messageId and by content")
    func duplicates() throws {
        let fixture = try IngestFixture()
        let events = [
            ["type": "track", "userId": "u1", "event": "A", "messageId": "same", "timestamp": "2026-01-01T00:00:00Z"],
            ["type": "track", "userId": "u1", "event": "A-retry", "messageId": "same", "timestamp": "2026-01-01T00:00:00Z"],
            ["type": "track", "userId": "u1", "event": "B", "timestamp": "2026-01-01T00:00:00Z"],
            ["type": "track", "userId": "u1", "event": "B", "timestamp": "2026-01-01T00:00:00Z"],
        ]
        let path = try fixture.file("d.jsonl", jsonl(events))
        let first = try fixture.ingest(path)
        #expect(first.accepted == 2 && first.duplicates == 2)
        let second = try fixture.ingest(path)
        #expect(second.accepted == 0 && second.duplicates == 4)
        #expect(try fixture.vault.eventLog().count() == 2)
        #expect(try LogVerifier.verify(layout: fixture.layout).isValid)
    }

    @Test("alias merges an anonymous visitor into the known customer; a shared email merges two subjects")
    func merges() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("m.jsonl", jsonl([
            ["type": "identify", "userId": "u1", "traits": ["email": "cara@example.com"], "timestamp": "2026-01-01T00:00:00Z"],
            ["type": "page", "anonymousId": "anon-9", "timestamp": "2026-01-02T00:00:00Z"],
            ["type": "alias", "previousId": "anon-9", "userId": "u1", "timestamp": "2026-01-03T00:00:00Z"],
            ["type": "screen", "anonymousId": "device-5", "timestamp": "2026-01-04T00:00:00Z"],
            ["type": "identify", "anonymousId": "device-5", "traits": ["email": "CARA@example.com"], "timestamp": "2026-01-05T00:00:00Z"],
        ]))
        let report = try fixture.ingest(path)
        #expect(report.accepted == 5)
        #expect(report.subjectsCreated == 3)
        #expect(report.merges == 2)
        let person = try #require(try fixture.summary("user:u1"))
        #expect(person.merged.count == 2)
        for id in ["anon:anon-9", "anon:device-5", "email:cara@example.com"] {
            #expect(try fixture.summary(id)?.subject == person.subject, "\(id)")
        }
        #expect(Set(person.identifiers.map(\.description)) == ["user:u1", "email:cara@example.com", "anon:anon-9", "anon:device-5"])
        // The first-recorded subject survives; every event of all three is counted, plus two merge events.
        #expect(person.eventCounts[.merge] == 2)
        #expect(person.totalEvents == 7)
        #expect(try fixture.payloads("user:u1").filter { $0["type"] as? String == "merge" }.count == 2)
    }

    struct BadInput: Sendable, CustomStringConvertible {
        let name: String, line: String, reason: String
        var description: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "broken JSON", line: #"{"type":"track","userId":"u1","event":"X""#, reason: "invalid JSON"),
        BadInput(name: "missing userId and anonymousId", line: #"{"type":"track","event":"X","timestamp":"2026-01-01T00:00:00Z"}"#,
                 reason: "missing userId and anonymousId"),
        BadInput(name: "wrong type (properties)", line: #"{"type":"track","userId":"u1","event":"X","properties":"oops"}"#,
                 reason: "wrong type: properties must be an object"),
        BadInput(name: "wrong type (userId)", line: #"{"type":"track","userId":{"id":1},"event":"X"}"#,
                 reason: "wrong type: userId must be a string"),
        // Issue 15: every field typed as Segment's spec types it.
        BadInput(name: "wrong type (event)", line: #"{"type":"track","userId":"u1","event":42}"#,
                 reason: "wrong type: event must be a non-empty string"),
        BadInput(name: "wrong type (name)", line: #"{"type":"page","userId":"u1","name":["Home"]}"#,
                 reason: "wrong type: name must be a string"),
        BadInput(name: "wrong type (category)", line: #"{"type":"page","userId":"u1","category":7}"#,
                 reason: "wrong type: category must be a string"),
        BadInput(name: "wrong type (integrations)", line: #"{"type":"page","userId":"u1","integrations":true}"#,
                 reason: "wrong type: integrations must be an object"),
        BadInput(name: "wrong type (channel)", line: #"{"type":"page","userId":"u1","channel":{}}"#,
                 reason: "wrong type: channel must be a string"),
        BadInput(name: "oversized", line: #"{"type":"track","userId":"u1","event":"X","properties":{"p":"\#(String(repeating: "y", count: 33_000))"}}"#,
                 reason: "event larger than 32 KB"),
        BadInput(name: "bad timestamp", line: #"{"type":"track","userId":"u1","event":"X","timestamp":"03/01/2026"}"#,
                 reason: "bad timestamp: timestamp is not ISO-8601 with a time zone"),
        BadInput(name: "timestamp without zone", line: #"{"type":"track","userId":"u1","event":"X","timestamp":"2026-01-01T10:00:00"}"#,
                 reason: "bad timestamp"),
        BadInput(name: "impossible date", line: #"{"type":"track","userId":"u1","event":"X","timestamp":"2026-02-30T10:00:00Z"}"#,
                 reason: "bad timestamp"),
        BadInput(name: "unknown type", line: #"{"type":"purchase","userId":"u1"}"#, reason: "unknown type"),
        BadInput(name: "track without event", line: #"{"type":"track","userId":"u1"}"#, reason: "missing event"),
        BadInput(name: "not an object", line: #"[1,2,3]"#, reason: "invalid JSON: an event must be an object"),
        BadInput(name: "overlong previousId", line: #"{"type":"alias","userId":"u9","previousId":"\#(String(repeating: "p", count: 300))"}"#,
                 reason: "identifier too long: previousId exceeds 256 characters"),
        BadInput(name: "overlong userId", line: #"{"type":"track","userId":"\#(String(repeating: "u", count: 300))","anonymousId":"a9","event":"X"}"#,
                 reason: "identifier too long: userId exceeds 256 characters"),
    ]

    @Test("each class of bad input is quarantined with its reason and line, while good records in the same file land",
          arguments: badInputs)
    func badInput(_ bad: BadInput) throws {
        let fixture = try IngestFixture()
        let good1 = #"{"type":"track","userId":"u1","event":"Good 1","timestamp":"2026-01-01T00:00:00Z"}"#
        let good2 = #"{"type":"track","userId":"u2","event":"Good 2","timestamp":"2026-01-01T00:00:00Z"}"#
        let path = try fixture.file("bad.jsonl", [good1, bad.line, good2].joined(separator: "\n") + "\n")
        let report = try fixture.ingest(path)
        #expect(report.accepted == 2)
        #expect(report.quarantined == 1)
        let records = try fixture.quarantined()
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.reason.hasPrefix(bad.reason), "\(record.reason)")
        #expect(record.line == 2)
        #expect(record.byteOffset == good1.utf8.count + 1)
        #expect(record.file == path)
        // The quarantine keeps a record whole, or its first 32 KB when it is larger (a bounded prefix).
        #expect(record.record == Array(bad.line.utf8.prefix(SegmentParser.maxEventBytes)))
        #expect(try fixture.summary("user:u2")?.totalEvents == 1)
    }

    @Test("quarantined records are encrypted on disk, and importing them again does not duplicate them")
    func quarantineEncrypted() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("q.jsonl", #"{"type":"track","event":"QX-MARKER-7781","properties":"bad"}"# + "\n")
        #expect(try fixture.ingest(path).quarantined == 1)
        #expect(try fixture.ingest(path).quarantined == 0)
        #expect(try fixture.quarantined().count == 1)
        for (name, bytes) in try fixture.vaultBytes() {
            #expect(bytes.range(of: Data("QX-MARKER-7781".utf8)) == nil, "marker found in \(name)")
            #expect(bytes.range(of: Data("q.jsonl".utf8)) == nil, "file name found in \(name)")
        }
    }

    @Test("a file that cannot be read fails with a clear error and changes nothing")
    func unreadable() throws {
        let fixture = try IngestFixture()
        #expect(throws: IngestError.self) { try fixture.ingest(fixture.directory.appendingPathComponent("missing.jsonl").path) }
        #expect(throws: IngestError.unknownFormat(path: try fixture.file("notes.txt", "hello"))) {
            try fixture.ingest(fixture.directory.appendingPathComponent("notes.txt").path)
        }
        #expect(try fixture.vault.eventLog().count() == 0)
    }
}

/// The reading thread hands batches to the writer: many batches must land whole, in file order, with
/// the right lines, and a failure on the reading side must surface, not hang.
struct PipelinedIngestTests {
    @Test("a file of many batches lands in order, bad records keep their lines, progress reaches the end")
    func manyBatches() throws {
        let fixture = try IngestFixture()
        var lines: [String] = []
        for i in 0..<2_500 {
            lines.append(i % 401 == 7 ? #"{"type":"track","userId":"u\#(i)"}"#   // missing event: quarantined
                : #"{"type":"track","userId":"u\#(i % 50)","event":"E\#(i)","messageId":"m\#(i)","timestamp":"2026-01-01T00:00:00Z"}"#)
        }
        let path = try fixture.file("many.jsonl", lines.joined(separator: "\n") + "\n")
        let ingestor = try Ingestor(vault: fixture.vault)
        ingestor.batchSize = 300
        var updates: [IngestProgress] = []
        let report = try ingestor.ingest(path: path) { updates.append($0) }
        let bad = (0..<2_500).filter { $0 % 401 == 7 }
        #expect(report.quarantined == bad.count)
        #expect(report.accepted == 2_500 - bad.count)
        #expect(report.bytes == lines.joined(separator: "\n").utf8.count + 1)
        #expect(updates.count >= 9, "a progress update per batch")
        #expect(updates.last?.bytesRead == report.bytes && updates.last?.report.records == 2_500)
        #expect(try fixture.quarantined().map(\.line).sorted() == bad.map { $0 + 1 })

        // The log holds the good events in file order.
        let log = try fixture.vault.eventLog()
        var names: [String] = []
        try fixture.vault.database.read { db in
            try log.scan(kinds: [.track], in: db) { event in
                let object = try JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any]
                names.append(object?["event"] as? String ?? "?")
            }
        }
        #expect(names == (0..<2_500).filter { !bad.contains($0) }.map { "E\($0)" })

        // The same file again: every record is known, nothing is added.
        let again = try ingestor.ingest(path: path)
        #expect(again.accepted == 0 && again.duplicates == 2_500)
    }

    @Test("the parsing thread's keyed hashes and classification are the writer's: records read in memory, then as a file, are duplicates and the same people")
    func preparedMatchesWriter() throws {
        let fixture = try IngestFixture()
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        func lines(_ round: Int) -> [String] {
            (0..<40).map { i in
                switch i % 4 {
                case 0: #"{"type":"identify","userId":"u\#(i)","traits":{"email":"P\#(i)@Example.com","shoeSize":\#(i)},"timestamp":"2026-01-0\#(round)T00:00:00Z"}"#
                case 1: #"{"type":"track","userId":"u\#(i - 1)","event":"Bought","messageId":"m\#(round)-\#(i)","properties":{"colour":"red"},"timestamp":"2026-01-0\#(round)T01:00:00Z"}"#
                case 2: #"{"type":"page","anonymousId":"a\#(i)","name":"Home","timestamp":"2026-01-0\#(round)T02:00:00Z"}"#
                default: #"{"type":"alias","userId":"u\#(i - 3)","previousId":"a\#(i - 1)","timestamp":"2026-01-0\#(round)T03:00:00Z"}"#
                }
            }
        }
        let ingestor = try Ingestor(vault: fixture.vault, policy: policy)
        // In memory: the writer hashes and classifies (nothing prepared these).
        let inMemory = try ingestor.ingest(records: lines(1).enumerated().map { SourceRecord(line: $0.offset + 1, byteOffset: 0, bytes: Array($0.element.utf8)) },
                                           file: "memory", format: InputFormat.jsonl)
        #expect(inMemory.accepted == 40 && inMemory.subjectsCreated == 20 && inMemory.merges == 10)
        // The same records as a file: the parsing thread's dedup keys find every one.
        let again = try fixture.ingest(try fixture.file("same.jsonl", lines(1).joined(separator: "\n")), policy: policy)
        #expect(again.accepted == 0 && again.duplicates == 40)
        // New events of the same people as a file: its tokens find the people, and its counts of unclassified fields are the writer's.
        let later = try fixture.ingest(try fixture.file("later.jsonl", lines(2).joined(separator: "\n")), policy: policy)
        #expect(later.accepted == 40 && later.subjectsCreated == 0 && later.merges == 0)
        #expect(later.unclassifiedFields == inMemory.unclassifiedFields && later.unclassifiedFields["shoeSize"] == 10)
    }

    @Test("a CSV whose header lacks a mapped column fails on the reading thread with the file's name, and nothing lands")
    func readingSideFailure() throws {
        let fixture = try IngestFixture()
        let mapping = CSVMapping(type: "track", event: "Order Completed", fields: ["userId": "customer_id", "timestamp": "time_shop"])
        let path = try fixture.file("broken.csv", "customer,time_shop\n" + String(repeating: "1,2026-01-01 10:00\n", count: 50))
        #expect(throws: IngestError.missingColumns(path: path, columns: ["customer_id"])) {
            try Ingestor(vault: fixture.vault).ingest(path: path, format: .csv, mapping: mapping)
        }
        #expect(try fixture.vault.eventLog().count() == 0)
    }
}
