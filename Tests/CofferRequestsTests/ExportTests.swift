import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
@testable import CofferRequests
import CofferStore
import Foundation
import GRDB
import Testing
import ZIPFoundation
import CofferFormats
import CofferTestSupport

struct ExportTests {
    @Test func testExportHoldsExactlyTheSubjectsDataWithASignedManifest() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let out = fixture.directory.appendingPathComponent("ann.zip")
        let result = try desk.export(subject: RequestFixture.ann, to: out)
        #expect(result.found)
        let summary = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann))
        #expect(result.events == summary.totalEvents, "every event of Ann and of the subject merged into her")

        let files = try BundleVerifier.files(out)
        #expect(Set(files.keys) == ["README.txt", "subject.json", "events.json", "events.csv", "consents.json", "single_view.json",
                                         "segments.json", "profiling.json", "access_log.json", "processing.json", "manifest.json", "manifest.sig"])
        let all = files.values.map { String(decoding: $0, as: UTF8.self).lowercased() }.joined(separator: "\n")
        for own in ["ann@example.com", "+447700900123", "annabelle", "wintergreen", "kirkcudbright", "pistachio croissant", "newsletter-winter"] {
            #expect(all.contains(own), "the bundle should hold Ann's \(own)")
        }
        for other in ["bo@example.com", "bodhi", "marchetti", "cy@example.com", "cyrielle", "\"u2\"", "\"u3\""] {
            #expect(!(all.contains(other)), "the bundle must not hold another person's \(other)")
        }

        let subject = try #require(JSONSerialization.jsonObject(with: Data(files["subject.json"]!)) as? [String: Any])
        let identifiers = try #require(subject["identifiers"] as? [[String: String]]).map { "\($0["type"]!):\($0["value"]!)" }
        #expect(Set(identifiers) == ["email:ann@example.com", "phone:+447700900123", "user:u1", "anon:anon-ann-1"])
        #expect((subject["merged_subject_ids"] as? [String])?.count == 1)
        let events = try #require(JSONSerialization.jsonObject(with: Data(files["events.json"]!)) as? [[String: Any]])
        #expect(events.count == summary.totalEvents)
        #expect(String(decoding: files["events.csv"]!, as: UTF8.self).split(separator: "\r\n").count == summary.totalEvents + 1)
        let consents = try #require(JSONSerialization.jsonObject(with: Data(files["consents.json"]!)) as? [[String: Any]])
        #expect(Set(consents.map { "\($0["purpose"]!)=\($0["status"]!)" }) == ["marketing=granted", "personalisation=withdrawn"])
        let view = try #require(JSONSerialization.jsonObject(with: Data(files["single_view.json"]!)) as? [String: Any])
        #expect(view["total_spend"] as? Double == 30)
        #expect(view["customer_id"] as? String == "u1", "the person gets their own view, untransformed")
        // The README explains every field of single_view.json, with its unit.
        let readme = String(decoding: files["README.txt"]!, as: UTF8.self)
        for name in view.keys where name != "computed_at" {
            #expect(readme.contains("\n" + name + " "), "README.txt explains \(name)")
        }
        #expect(readme.contains("total_spend              the sum of all purchases, less refunds (currency)"))
        let segments = try #require(JSONSerialization.jsonObject(with: Data(files["segments.json"]!)) as? [[String: String]])
        #expect(Set(segments.map { $0["segment"]! }) == ["spenders", "browsers"])
        #expect(segments.first { $0["segment"] == "spenders" }?["rule"] == "total_spend >= 20")
        // Profiling (Art. 15(1)(h)): the last build's scores for Ann, file by file, and how they are computed.
        let profiling = try #require(JSONSerialization.jsonObject(with: Data(files["profiling.json"]!)) as? [String: Any])
        #expect((profiling["logic"] as? String)?.contains("BG/NBD") == true)
        let built = try #require(profiling["projections"] as? [[String: Any]])
        #expect(Set(built.map { $0["purpose"] as? String }) == ["analytics", "marketing", "support"],
                "every file that holds Ann's row (personalisation lacks her consent)")
        for record in built {
            let values = try #require(record["values"] as? [String: Any])
            #expect((values["rfm_segment"] as? String).map { !$0.isEmpty } == true, "\(record)")
            #expect(values["recommended_items"] == nil, "no recommendations outside personalisation")
        }

        // Signed manifest: verifies with the vault's audit key; a changed file or another key fails.
        let auditKey = try fixture.owner.auditPublicKey()
        let manifest = try BundleVerifier.verify(out, publicKey: auditKey)
        #expect(manifest.files.count == 10)
        #expect(throws: (any Error).self) { try BundleVerifier.verify(out, publicKey: Ed25519.PrivateKey.generate().publicKey) }
        let tampered = fixture.directory.appendingPathComponent("tampered.zip")
        var changed = files
        changed["events.json"] = Array(String(decoding: files["events.json"]!, as: UTF8.self).replacingOccurrences(of: "Pistachio", with: "Almond").utf8)
        try RequestDesk.writeZip(changed.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: tampered)
        do { _ = try BundleVerifier.verify(tampered, publicKey: auditKey); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("events.json"), "\(error)")
        }

        // Completed in the register; audited; never overwrites.
        #expect(try desk.list().first?.status == .completed)
        do { _ = try desk.export(subject: RequestFixture.ann, to: out); Issue.record("expected an error") } catch { #expect(error as? RequestError == .outputExists(out.path)) }
        let audit = try fixture.owner.auditEntries(AuditFilter(action: .requestExport))
        #expect(audit.first?.details.actor == "dpo")
        #expect(audit.first?.details.rows == summary.totalEvents)
    }

    @Test func testTheAccessLogListsWhoReadTheSubject() throws {
        let fixture = try RequestFixture()
        _ = try fixture.owner.subjectSummary(for: RequestFixture.ann)   // owner looks Ann up
        _ = try fixture.owner.subjectSummary(for: RequestFixture.bo)    // and Bo: not Ann's business
        let out = fixture.directory.appendingPathComponent("ann.zip")
        _ = try fixture.desk().export(subject: RequestFixture.ann, to: out)
        let log = try #require(JSONSerialization.jsonObject(with: Data(BundleVerifier.files(out)["access_log.json"]!)) as? [[String: Any]])
        #expect(log.filter { $0["action"] as? String == "subject-show" }.count == 1)
        #expect(log.first?["actor"] as? String == "owner")
    }
}
