import CofferDemo
import CofferIngest
import CofferStore
import Foundation
import Testing

struct CSVIngestTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    @Test("the till's line items import with the shipped example mapping: one event per cart, a bad price quarantines its cart")
    func tillExample() throws {
        let fixture = try IngestFixture()
        let mappingPath = Self.examples.appendingPathComponent("till-items-mapping.yaml").path
        let mapping = try CSVMapping.load(path: mappingPath)
        #expect(mapping == DemoGenerator.tillMapping)
        let report = try fixture.ingest(Self.examples.appendingPathComponent("till-items.csv").path, mapping: mapping, mappingPath: mappingPath)
        #expect(report.accepted == 3 && report.quarantined == 1)
        #expect(try fixture.quarantined().map(\.reason) == ["wrong type: column unit_price must be a number (row 1 of the cart)"])
        let payloads = try fixture.payloads("user:C100001")
        #expect(payloads.count == 2)
        let properties = try #require(payloads[0]["properties"] as? [String: Any])
        let products = try #require(properties["products"] as? [[String: Any]])
        #expect(products.map { $0["name"] as? String } == ["Flat White", "Croissant"])
        #expect(properties["revenue"] as? Double == 6 && properties["channel"] as? String == "in-store")
        #expect(try fixture.payloads("user:C100002").first.flatMap { ($0["properties"] as? [String: Any])?["revenue"] as? Double } == 15.5)
        let again = try fixture.ingest(Self.examples.appendingPathComponent("till-items.csv").path, mapping: mapping)
        #expect(again.accepted == 0 && again.duplicates == 4, "the three carts and the quarantined one, \(again)")
    }

    @Test("the retail table imports with the shipped example mapping")
    func retailExample() throws {
        let fixture = try IngestFixture()
        let mappingPath = Self.examples.appendingPathComponent("retail-mapping.yaml").path
        let mapping = try CSVMapping.load(path: mappingPath)
        #expect(mapping == DemoGenerator.retailMapping)
        let report = try fixture.ingest(Self.examples.appendingPathComponent("retail.csv").path, mapping: mapping,
                                        mappingPath: mappingPath)
        #expect(report.accepted == 6)
        #expect(report.quarantined == 2)
        #expect(Set(try fixture.quarantined().map(\.reason)) == [
            "wrong type: column customer_age must be a number",
            "bad timestamp: column time_shop is not an ISO-8601 date and time",
        ])
        let payloads = try fixture.payloads("user:C100001")
        #expect(payloads.count == 2)
        let first = payloads[0]
        #expect(first["event"] as? String == "Order Completed")
        #expect(first["messageId"] as? String == "K-0003")
        #expect(first["timestamp"] as? String == "2025-11-04T11:31:10.000Z")  // +01:00 local → UTC
        let properties = try #require(first["properties"] as? [String: Any])
        #expect(properties["cart_size"] as? Int == 4)
        #expect(properties["spending"] as? Double == 17.9)
        #expect((payloads[1]["properties"] as? [String: Any])?["spending"] as? Double == -6.4)  // a refund
        #expect((first["traits"] as? [String: Any])?["age"] as? Int == 52)
        // Importing again adds nothing.
        let again = try fixture.ingest(Self.examples.appendingPathComponent("retail.csv").path, mapping: mapping)
        #expect(again.accepted == 0 && again.duplicates == 8)
    }

    @Test("quoted CSV fields with commas, quotes and line breaks; wrong column counts are quarantined")
    func quoting() throws {
        let fixture = try IngestFixture()
        let mapping = CSVMapping(type: "identify", fields: ["userId": "id"], traits: ["note": "note"])
        let path = try fixture.file("q.csv", "id,note\nu1,\"a, b \"\"c\"\"\nd\"\nu2,plain\nu3,too,many\n")
        let report = try fixture.ingest(path, mapping: mapping)
        #expect(report.accepted == 2 && report.quarantined == 1)
        #expect(try fixture.quarantined().first?.line == 5)
        #expect((try fixture.payloads("user:u1").first?["traits"] as? [String: Any])?["note"] as? String == "a, b \"c\"\nd")
    }

    @Test("a CSV without a mapping, or missing a mapped column, is refused before anything lands")
    func refusals() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("r.csv", "customer_id,spending\nC1,3.0\n")
        #expect(throws: IngestError.mappingRequired(path: path)) { try fixture.ingest(path) }
        #expect(throws: IngestError.missingColumns(path: path, columns: ["customer_age", "customer_gender", "time_shop", "cart_id", "cart_size", "channel"].sorted())) {
            try fixture.ingest(path, mapping: DemoGenerator.retailMapping)
        }
        #expect(try fixture.vault.eventLog().count() == 0)
    }

    @Test("mapping errors name the file and what is wrong")
    func mappingErrors() throws {
        let fixture = try IngestFixture()
        let cases: [(String, String)] = [
            ("type: track\nfields: [oops", "not valid YAML"),
            ("type: track\n", "missing required key 'fields'"),
            ("type: purchase\nfields: {userId: id}\n", "type must be identify"),
            ("type: track\nfields: {userid: id}\n", "unknown Segment field 'userid'"),
            ("type: track\nfields: {messageId: id}\n", "fields must map userId or anonymousId"),
            ("type: track\nfields: {userId: id}\ntimezone: CET\n", "timezone 'CET'"),
            ("type: track\nfields: {userId: id}\ntimezone: Mars/Olympus_Mons\n", "nor a known IANA zone"),
            ("type: track\nfields: {userId: id}\nvalues: {gender: {F: female}}\n", "values: column 'gender' is not read"),
            ("type: track\nfields: {userId: id}\ndate_format: \"%H:%M\"\n", "date_format '%H:%M' needs a year"),
        ]
        for (index, (yaml, expected)) in cases.enumerated() {
            let path = try fixture.file("m\(index).yaml", yaml)
            #expect {
                try CSVMapping.load(path: path)
            } throws: { error in
                let text = "\(error)"
                return text.contains(path) && text.contains(expected)
            }
        }
    }

    @Test("quarantine retry releases rows once the mapping is fixed, and leaves the rest")
    func retryAfterFix() throws {
        let fixture = try IngestFixture()
        let mappingPath = try fixture.file("map.yaml", "type: track\nevent: Visit\nfields: {userId: id}\nproperties: {n: n}\nnumbers: [n]\n")
        let path = try fixture.file("v.csv", "id,n\nu1,3\nu2,three\nu3,4\n")
        let report = try fixture.ingest(path, mapping: CSVMapping.load(path: mappingPath), mappingPath: mappingPath)
        #expect(report.accepted == 2 && report.quarantined == 1)
        let unchanged = try Ingestor(vault: fixture.vault).retryQuarantine()
        #expect(unchanged.released == 0 && unchanged.stillRejected == 1)
        _ = try fixture.file("map.yaml", "type: track\nevent: Visit\nfields: {userId: id}\nproperties: {n: n}\n")
        let fixed = try Ingestor(vault: fixture.vault).retryQuarantine()
        #expect(fixed.released == 1 && fixed.ingest.accepted == 1)
        #expect(try fixture.quarantined().isEmpty)
        #expect((try fixture.payloads("user:u2").first?["properties"] as? [String: Any])?["n"] as? String == "three")
        #expect(try LogVerifier.verify(layout: fixture.layout).isValid)
    }
}
