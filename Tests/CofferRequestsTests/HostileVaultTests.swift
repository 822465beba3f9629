import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing

/// Issue 15, done-when: a vault fed every hostile record of the issue still builds, exports and verifies.
struct HostileVaultTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every hostile record of issue 15 in one vault: it builds, exports and verifies")
    func everythingAtOnce() throws {
        let fixture = try RequestFixture()
        func file(_ name: String, _ text: String) throws -> String {
            let url = fixture.directory.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let ingestor = try Ingestor(vault: fixture.owner, policy: fixture.policy)
        var total = IngestReport()
        // Out-of-range numbers, wrong types, no messageId and no time (twice), a 2 MB line.
        total.add(try ingestor.ingest(path: try file("hostile.jsonl", """
            {"type":"identify","userId":"u2","traits":{"age":1e20}}
            {"type":"identify","userId":"u2","traits":{"loyaltyPoints":1e30}}
            {"type":"track","event":"Order Completed","userId":"u2","properties":{"revenue":1e300}}
            {"type":"track","event":42,"userId":"u2"}
            {"type":"page","userId":"u2","name":"No time"}
            {"type":"page","userId":"u2","name":"No time"}
            {"type":"page","userId":"u2","pad":"\(String(repeating: "x", count: 2_000_000))"}
            """)))
        // A JSON array with a stray } and a missing }, and CR-only line endings.
        let elements = (0..<50).map { #"{"type":"page","userId":"a\#($0)","messageId":"arr-\#($0)"}"# }
        var broken = elements
        broken[1] += "}"
        broken[7] = #"{"type":"page","userId":"a7""#
        total.add(try ingestor.ingest(path: try file("broken.json", "[" + broken.joined(separator: ",\r") + "]")))
        total.add(try ingestor.ingest(path: try file("cr.jsonl", elements.map { $0.replacingOccurrences(of: "arr-", with: "cr-") }
            .joined(separator: "\r"))))
        // CSV with a stray quote, through the shipped mapping.
        let mappingPath = Self.root.appendingPathComponent("examples/retail-mapping.yaml").path
        total.add(try ingestor.ingest(path: try file("retail.csv", """
            customer_id,customer_age,customer_gender,time_shop,cart_id,cart_size,spending,channel
            C1,34,fe"male,2025-11-03 08:12:44,Q-1,2,6.60,in-store
            C2,35,female,2025-11-03 08:12:44,Q-2,2,6.60,in-store
            C3,36,female,2025-11-03 08:12:44,Q-3,2,6.60,in-store
            """), mapping: try CSVMapping.load(path: mappingPath), mappingPath: mappingPath))
        // A consent CSV with an email where the purpose belongs.
        total.add(try ConsentImporter(vault: fixture.owner, policy: fixture.policy).importCSV(path: try file("consents.csv", """
            subject,purpose,status,timestamp
            email:bo@example.com,bo@example.com,granted,2025-01-01T10:00:00Z
            email:bo@example.com,marketing,withdrawn,2026-01-10T00:00:00Z
            """)))
        #expect(total.accepted == 1 + 48 + 50 + 2 + 1, "\(total)")
        #expect(total.duplicates == 1, "the record without messageId and time, imported twice in one file")
        #expect(total.quarantined == 5 + 2 + 1 + 1, "\(total.reasons)")
        #expect(total.unattributed.count == 0)

        let report = try fixture.build()
        #expect(report.people == 3 + 50 + 2, "Ann, Bo, Cy; a0–a49 (the CR file shares their ids); C2, C3")
        let out = fixture.directory.appendingPathComponent("bo.zip")
        #expect(try fixture.desk().export(subject: RequestFixture.bo, to: out).found)
        #expect(try LogVerifier.verify(layout: fixture.layout).isValid)
        #expect(try AuditVerifier.verify(layout: fixture.layout).isValid)
        try fixture.owner.verifySeals()
        #expect(try fixture.owner.logCoverage().isComplete)
        // Bo withdrew marketing consent: out of the marketing projection after the build.
        let marketing = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .query)
            .query("SELECT consent_marketing FROM single_view WHERE email = 'bo@example.com'")
        #expect(marketing.rows == [[.integer(0)]])
    }
}
