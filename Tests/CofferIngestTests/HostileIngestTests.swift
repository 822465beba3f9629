import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import Testing
import GRDB
import CofferTestSupport

/// Issue 15: what a hostile or broken input can do to an import.
struct HostileIngestTests {
    static let root = ScratchVault.repository

    @Test("records with neither messageId nor timestamp are recognised when imported again (class 5)")
    func reimportWithoutTime() throws {
        let fixture = try IngestFixture()
        let path = try fixture.file("untimed.jsonl", """
            {"type":"page","userId":"u1","name":"Home"}
            {"type":"track","userId":"u1","event":"Clicked","properties":{"x":1}}
            {"type":"identify","userId":"u2","traits":{"email":"u2@example.com"}}
            """)
        let first = try fixture.ingest(path)
        #expect(first.accepted == 3)
        Thread.sleep(forTimeInterval: 0.01)  // a later receive time
        let again = try fixture.ingest(path)
        #expect(again.accepted == 0 && again.duplicates == 3)
        #expect(try fixture.summary("user:u1")?.totalEvents == 2)
        // Their events still carry the time they were received.
        #expect(try fixture.payloads("user:u1").allSatisfy { $0["timestamp"] is String })
    }

    @Test("a JSON array with a stray } in element 2 imports the other 999 and quarantines that one (class 4)")
    func arrayWithStrayBrace() throws {
        let fixture = try IngestFixture()
        let elements = (0..<1000).map { index in
            #"{"type":"page","userId":"u\#(index)","messageId":"m\#(index)","timestamp":"2026-01-01T00:00:00Z"}"# + (index == 1 ? "}" : "")
        }
        let path = try fixture.file("batch.json", "[\n" + elements.joined(separator: ",\n") + "\n]\n")
        let report = try fixture.ingest(path)
        #expect(report.accepted == 999)
        #expect(report.quarantined == 1)
        #expect(report.unattributed.count == 0)
        #expect(try fixture.quarantined().map(\.line) == [3])

        let stray = try fixture.file("stray.json", "garbage [" + elements[5] + "] trailing")
        let strayReport = try fixture.ingest(stray)
        #expect(strayReport.unattributed.count == "garbage".count + 1)
        #expect(strayReport.duplicates == 1 && strayReport.quarantined == 1)
    }

    @Test("a 2 MB line is quarantined as a bounded prefix, and re-importing it adds nothing (class 6)")
    func hugeLine() throws {
        let fixture = try IngestFixture()
        let huge = #"{"type":"page","userId":"big","pad":""# + String(repeating: "z", count: 2_000_000) + #""}"#
        let path = try fixture.file("huge.jsonl", huge + "\n" + #"{"type":"page","userId":"small"}"# + "\n")
        let report = try fixture.ingest(path)
        #expect(report.accepted == 1 && report.quarantined == 1)
        let record = try #require(try fixture.quarantined().first)
        #expect(record.record.count == SegmentParser.maxEventBytes)
        #expect(record.reason.hasPrefix("event larger than 32 KB"))
        #expect(try fixture.ingest(path).quarantined == 0)
    }

    /// Every importer's rejection paths, each fed a marker value; no vault file may hold it afterwards.
    @Test("no rejection path writes input into the vault in clear (class 3)")
    func noInputInClear() throws {
        let fixture = try IngestFixture()
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let marker = "zq7marker"
        let jsonl = [
            #"{"type":"\#(marker)","userId":"u1"}"#,
            #"{"type":"track","userId":"u1","event":{"\#(marker)":1}}"#,
            #"{"type":"track","userId":"u1","event":"x","timestamp":"\#(marker)"}"#,
            #"{"type":"track","userId":"u1","event":"x","properties":"\#(marker)"}"#,
            #"{"type":"identify","userId":"u1","traits":{"age":"1e99","\#(marker)":"\#(marker)"}}"#,
            #"{"type":"identify","userId":"\#(String(repeating: marker, count: 40))"}"#,
            #"{"type":"page","anonymousId":"\#(marker)","name":"\#(marker)","#,
            #"{"type":"page","userId":"u1","pad":"\#(String(repeating: marker, count: 5000))"}"#,
            #"{"\#(marker)": [1, 2,]}"#,
            #"{"type":"track","userId":"u1","event":"x","context":{"consent":{"categoryPreferences":{"\#(marker)":"yes"}}}}"#,
            #"\#(marker)"#,
        ].joined(separator: "\n")
        _ = try Ingestor(vault: fixture.vault, policy: policy).ingest(path: try fixture.file("m.jsonl", jsonl))
        let array = "[" + #"{"type":"page","userId":"\#(marker)"}}"# + #",{"type":"page","userId":"u1","x":"\#(marker)""# + ",\n{\"a\":1}]"
        _ = try Ingestor(vault: fixture.vault, policy: policy).ingest(path: try fixture.file("m.json", array))
        let mappingPath = Self.root.appendingPathComponent("examples/retail-mapping.yaml").path
        let csv = """
            customer_id,customer_age,customer_gender,time_shop,cart_id,cart_size,spending,channel
            \(marker),\(marker),female,2025-11-03 08:12:44,K-1,2,6.60,in-store
            \(marker),34,female,\(marker),K-2,2,6.60,in-store
            \(marker),34,female,2025-11-03 08:12:44,K-3,2,6.60
            \(marker),34,"fe"male\(marker),2025-11-03 08:12:44,K-4,2,6.60,in-store
            \(marker),34,fe"\(marker),2025-11-03 08:12:44,K-5,2,6.60,in-store
            \(marker),999,female,2025-11-03 08:12:44,K-6,2,6.60,in-store
            """
        _ = try Ingestor(vault: fixture.vault, policy: policy).ingest(path: try fixture.file("m.csv", csv),
                                                                      mapping: try CSVMapping.load(path: mappingPath), mappingPath: mappingPath)
        let consents = """
            subject,purpose,status,timestamp,expires,source,notice_version
            email:\(marker)@example.com,\(marker),granted,2025-01-01T10:00:00Z,,\(marker),\(marker)
            email:\(marker)@example.com,analytics,granted,2025-01-01T10:00:00Z,,x,v1
            \(marker),marketing,granted,2025-01-01T10:00:00Z,,x,v1
            email:\(marker)@example.com,marketing,\(marker),2025-01-01T10:00:00Z,,x,v1
            email:\(marker)@example.com,marketing,granted,\(marker),,x,v1
            email:\(marker)@example.com,marketing,granted,2025-01-01T10:00:00Z,\(marker),x,v1
            email:\(marker)@example.com,marketing,granted
            email:\(marker)@example.com,"marketing\(marker),granted,2025-01-01T10:00:00Z,,x,v1
            """
        let consentReport = try ConsentImporter(vault: fixture.vault, policy: policy).importCSV(path: try fixture.file("c.csv", consents))
        #expect(consentReport.accepted == 0 && consentReport.quarantined == 8)
        let quarantined = try fixture.quarantined()
        #expect(quarantined.count == 11 + 3 + 6 + 8, "every bad record is quarantined (\(quarantined.count))")
        for record in quarantined {
            #expect(!record.reason.lowercased().contains(marker), "reason quotes input: \(record.reason)")
        }
        for (name, bytes) in try fixture.vaultBytes() {
            #expect(!bytes.lowercased().containsBytes(Array(marker.utf8)), "\(name) holds the marker in clear")
        }
    }
}

extension Data {
    func lowercased() -> [UInt8] { map { (65...90).contains($0) ? $0 + 32 : $0 } }
}

extension Array where Element == UInt8 {
    func containsBytes(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

/// Issue 15, class 10: the audit entry of a batch cut off by a kill, and quarantined consent rows.
struct IngestRecoveryTests {
    @Test("a batch committed without its audit entry (a kill in between) is audited at the next import")
    func pendingAuditReconciled() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingest(try fixture.file("a.jsonl", #"{"type":"page","userId":"u1","messageId":"m1"}"# + "\n"))
        #expect(try fixture.vault.reconcilePendingAudit() == false, "the batch's entry is in the ledger")
        // What a kill after the commit and before the audit write leaves: events past the last audited batch.
        let log = try fixture.vault.eventLog()
        let subject = try #require(try fixture.summary("user:u1")).subject
        try fixture.vault.database.write { db in
            let receipt = try log.append([NewEvent(subject: subject, kind: .page, payload: Array(#"{"type":"page"}"#.utf8))], in: db)
            try fixture.vault.notePendingIngestAudit(target: "file:b.jsonl", rows: 1, reason: "accepted 1", through: receipt.lastSeq, in: db)
        }
        let coverage = try fixture.vault.logCoverage()
        #expect(coverage.auditedThrough < coverage.logHead, "a committed batch no entry speaks of")
        let before = try fixture.vault.auditEntries(AuditFilter(action: .ingest)).count
        _ = try Ingestor(vault: fixture.vault)  // the next import reconciles first
        let entries = try fixture.vault.auditEntries(AuditFilter(action: .ingest))
        #expect(entries.count == before + 1)
        #expect(entries.last?.details.reason?.contains("recorded at the next import, after an interruption") == true)
        #expect(entries.last?.details.target == "file:b.jsonl")
        #expect(try fixture.vault.reconcilePendingAudit() == false, "once only")
    }

    @Test("a quarantined consent row is released by quarantine retry once the policy accepts it")
    func consentRowsRelease() throws {
        let fixture = try IngestFixture()
        let narrow = try PolicyLoader.parse("""
            purposes:
              marketing: { lawful_basis: consent }
            field_classes: { behavioural: [spend] }
            access: { analyst: { purposes: { marketing: { behavioural: allow } } } }
            """, file: "narrow.yaml")
        let path = try fixture.file("c.csv", """
            subject,purpose,status,timestamp
            email:ann@example.com,marketing,granted,2025-01-01T10:00:00Z
            email:ann@example.com,newsletter,granted,2025-01-01T10:00:00Z
            """)
        let first = try ConsentImporter(vault: fixture.vault, policy: narrow).importCSV(path: path)
        #expect(first.accepted == 1 && first.quarantined == 1)
        #expect(try Ingestor(vault: fixture.vault, policy: narrow).retryQuarantine().stillRejected == 1)
        let wider = try PolicyLoader.parse("""
            purposes:
              marketing: { lawful_basis: consent }
              newsletter: { lawful_basis: consent }
            field_classes: { behavioural: [spend] }
            access: { analyst: { purposes: { marketing: { behavioural: allow } } } }
            """, file: "wider.yaml")
        let retry = try Ingestor(vault: fixture.vault, policy: wider).retryQuarantine()
        #expect(retry.released == 1 && retry.stillRejected == 0)
        #expect(try fixture.quarantined().isEmpty)
        let report = try #require(try ConsentDesk(vault: fixture.vault, policy: wider).report(for: Identifier(type: .email, raw: "ann@example.com")!))
        #expect(Set(report.history.map(\.record.purpose)) == ["marketing", "newsletter"])
    }
}
