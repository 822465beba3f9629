import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
@testable import CofferRequests
import CofferStore
import Foundation
import GRDB
import XCTest
import ZIPFoundation
import CofferFormats
import CofferTestSupport

final class ExportTests: XCTestCase {
    func testExportHoldsExactlyTheSubjectsDataWithASignedManifest() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let out = fixture.directory.appendingPathComponent("ann.zip")
        let result = try desk.export(subject: RequestFixture.ann, to: out)
        XCTAssertTrue(result.found)
        let summary = try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.ann))
        XCTAssertEqual(result.events, summary.totalEvents, "every event of Ann and of the subject merged into her")

        let files = try BundleVerifier.files(out)
        XCTAssertEqual(Set(files.keys), ["README.txt", "subject.json", "events.json", "events.csv", "consents.json", "single_view.json",
                                         "segments.json", "access_log.json", "processing.json", "manifest.json", "manifest.sig"])
        let all = files.values.map { String(decoding: $0, as: UTF8.self).lowercased() }.joined(separator: "\n")
        for own in ["ann@example.com", "+447700900123", "annabelle", "wintergreen", "kirkcudbright", "pistachio croissant", "newsletter-winter"] {
            XCTAssertTrue(all.contains(own), "the bundle should hold Ann's \(own)")
        }
        for other in ["bo@example.com", "bodhi", "marchetti", "cy@example.com", "cyrielle", "\"u2\"", "\"u3\""] {
            XCTAssertFalse(all.contains(other), "the bundle must not hold another person's \(other)")
        }

        let subject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(files["subject.json"]!)) as? [String: Any])
        let identifiers = try XCTUnwrap(subject["identifiers"] as? [[String: String]]).map { "\($0["type"]!):\($0["value"]!)" }
        XCTAssertEqual(Set(identifiers), ["email:ann@example.com", "phone:+447700900123", "user:u1", "anon:anon-ann-1"])
        XCTAssertEqual((subject["merged_subject_ids"] as? [String])?.count, 1)
        let events = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(files["events.json"]!)) as? [[String: Any]])
        XCTAssertEqual(events.count, summary.totalEvents)
        XCTAssertEqual(String(decoding: files["events.csv"]!, as: UTF8.self).split(separator: "\r\n").count, summary.totalEvents + 1)
        let consents = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(files["consents.json"]!)) as? [[String: Any]])
        XCTAssertEqual(Set(consents.map { "\($0["purpose"]!)=\($0["status"]!)" }), ["marketing=granted", "personalisation=withdrawn"])
        let view = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(files["single_view.json"]!)) as? [String: Any])
        XCTAssertEqual(view["total_spend"] as? Double, 30)
        XCTAssertEqual(view["customer_id"] as? String, "u1", "the person gets their own view, untransformed")
        let segments = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(files["segments.json"]!)) as? [[String: String]])
        XCTAssertEqual(Set(segments.map { $0["segment"]! }), ["spenders", "browsers"])
        XCTAssertEqual(segments.first { $0["segment"] == "spenders" }?["rule"], "total_spend >= 20")

        // Signed manifest: verifies with the vault's audit key; a changed file or another key fails.
        let auditKey = try fixture.owner.auditPublicKey()
        let manifest = try BundleVerifier.verify(out, publicKey: auditKey)
        XCTAssertEqual(manifest.files.count, 9)
        XCTAssertThrowsError(try BundleVerifier.verify(out, publicKey: Ed25519.PrivateKey.generate().publicKey))
        let tampered = fixture.directory.appendingPathComponent("tampered.zip")
        var changed = files
        changed["events.json"] = Array(String(decoding: files["events.json"]!, as: UTF8.self).replacingOccurrences(of: "Pistachio", with: "Almond").utf8)
        try RequestDesk.writeZip(changed.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: tampered)
        XCTAssertThrowsError(try BundleVerifier.verify(tampered, publicKey: auditKey)) { error in
            XCTAssertTrue("\(error)".contains("events.json"), "\(error)")
        }

        // Completed in the register; audited; never overwrites.
        XCTAssertEqual(try desk.list().first?.status, .completed)
        XCTAssertThrowsError(try desk.export(subject: RequestFixture.ann, to: out)) { XCTAssertEqual($0 as? RequestError, .outputExists(out.path)) }
        let audit = try fixture.owner.auditEntries(AuditFilter(action: .requestExport))
        XCTAssertEqual(audit.first?.details.actor, "dpo")
        XCTAssertEqual(audit.first?.details.rows, summary.totalEvents)
    }

    func testTheAccessLogListsWhoReadTheSubject() throws {
        let fixture = try RequestFixture()
        _ = try fixture.owner.subjectSummary(for: RequestFixture.ann)   // owner looks Ann up
        _ = try fixture.owner.subjectSummary(for: RequestFixture.bo)    // and Bo: not Ann's business
        let out = fixture.directory.appendingPathComponent("ann.zip")
        _ = try fixture.desk().export(subject: RequestFixture.ann, to: out)
        let log = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(BundleVerifier.files(out)["access_log.json"]!)) as? [[String: Any]])
        XCTAssertEqual(log.filter { $0["action"] as? String == "subject-show" }.count, 1)
        XCTAssertEqual(log.first?["actor"] as? String, "owner")
    }
}

final class ErasureTests: XCTestCase {
    func testErasureLeavesNoTraceAndKeepsEveryoneElse() throws {
        let fixture = try RequestFixture()
        let before = try fixture.supportRows()
        XCTAssertNotNil(before["ann@example.com"])
        let eventsBefore = try fixture.owner.eventLog().count()
        let summary = try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.ann))
        let oldIDs = [summary.subject] + summary.merged
        let keysBefore = try fixture.owner.database.read { db in
            try oldIDs.reduce(0) { $0 + (try Int.fetchOne(db, sql: "SELECT count(*) FROM keyring WHERE subject_id = ?", arguments: [Data($1.bytes)]) ?? 0) }
        }

        let signed = try fixture.desk().erase(subject: RequestFixture.ann)
        let receipt = signed.receipt
        XCTAssertTrue(receipt.traceCheck.clean, "\(receipt.traceCheck.findings)")
        XCTAssertGreaterThan(receipt.traceCheck.filesScanned, 3)
        XCTAssertEqual(receipt.shred.keysDestroyed, keysBefore)
        XCTAssertEqual(keysBefore, 2, "Ann's record key and the merged anonymous subject's: every month key derives from them")
        XCTAssertEqual(receipt.shred.eventsUnreadable, summary.totalEvents)
        XCTAssertEqual(receipt.shred.quarantinedRecords, 1, "the quarantined record with Ann's email, not Bo's")
        XCTAssertTrue(receipt.shred.walTruncated)
        XCTAssertEqual(receipt.tombstoneSeq, Int64(eventsBefore + 1))

        // Raw bytes of every vault file, WAL and shm included: none of Ann's data.
        for value in ["ann@example.com", "+447700900123", "Annabelle", "Wintergreen", "Kirkcudbright", "Pistachio", "anon-ann-1"] {
            XCTAssertEqual(try fixture.filesContaining(value), [], "\(value) left in the vault")
        }
        // Nothing decrypts for her any more; the identity graph does not know her.
        let log = try fixture.owner.eventLog()
        for id in oldIDs { XCTAssertEqual(try log.events(of: id), []) }
        XCTAssertNil(try fixture.owner.subjectSummary(for: RequestFixture.ann))
        let quarantine = try fixture.owner.quarantinedRecords()
        XCTAssertEqual(quarantine.count, 1)
        XCTAssertTrue(String(decoding: quarantine[0].record, as: UTF8.self).contains("bo@example.com"))

        // Projections: Ann removed at once, everyone else kept; a rebuild agrees.
        let after = try fixture.supportRows()
        XCTAssertNil(after["ann@example.com"])
        XCTAssertEqual(after["bo@example.com"], before["bo@example.com"])
        XCTAssertEqual(after.count, before.count - 1)
        XCTAssertTrue(receipt.projections.contains { $0.file == "build-state.enc" && $0.fileDeleted }, "the saved aggregates go too")
        let rebuilt = try fixture.build()
        XCTAssertEqual(rebuilt.people, 2)
        XCTAssertEqual(rebuilt.startSeq, 0, "without the state, the next build reads the whole log")

        // The log is intact, and export now finds nothing.
        let verification = try LogVerifier.verify(layout: fixture.layout)
        XCTAssertTrue(verification.isValid, "\(String(describing: verification.failure))")
        let out = fixture.directory.appendingPathComponent("after.zip")
        let export = try fixture.desk().export(subject: RequestFixture.ann, to: out)
        XCTAssertFalse(export.found)
        XCTAssertEqual(Set(try BundleVerifier.files(out).keys), ["README.txt", "subject.json", "manifest.json", "manifest.sig"])
        let bo = try fixture.desk().export(subject: RequestFixture.bo, to: fixture.directory.appendingPathComponent("bo.zip"))
        XCTAssertEqual(bo.events, try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.bo)).totalEvents)

        // The receipt is signed by the audit key; a changed receipt fails.
        XCTAssertEqual(try RequestDesk.verify(signed, publicKey: fixture.owner.auditPublicKey()), receipt)
        var forged = signed
        forged.receipt.shred.keysDestroyed = 3
        XCTAssertThrowsError(try RequestDesk.verify(forged, publicKey: fixture.owner.auditPublicKey()))
        let decoded = try JSONDecoder().decode(SignedReceipt.self, from: signed.encoded())
        XCTAssertEqual(try RequestDesk.verify(decoded, publicKey: fixture.owner.auditPublicKey()), receipt, "the file round-trips")
    }

    func testErasureDoesNotRewriteTheLog() throws {
        let fixture = try RequestFixture()
        let rows = { try fixture.owner.database.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, hash, ciphertext FROM events ORDER BY seq").map { "\($0[0] as Int64):\(Array($0[1] as Data).hexString):\(Array($0[2] as Data).hexString)" }
        } }
        let before = try rows()
        _ = try fixture.desk().erase(subject: RequestFixture.ann)
        let after = try rows()
        XCTAssertEqual(Array(after.prefix(before.count)), before, "every earlier row unchanged")
        XCTAssertEqual(after.count, before.count + 1, "only the tombstone appended")
        let tombstone = try fixture.owner.eventLog().events(of: try fixture.owner.database.read { db in
            try SubjectID(bytes: Array(Data.fetchOne(db, sql: "SELECT subject_id FROM events ORDER BY seq DESC LIMIT 1")!))
        })
        XCTAssertEqual(tombstone.first?.kind, .erase)
        let text = String(decoding: tombstone.first?.payload ?? [], as: UTF8.self)
        XCTAssertTrue(text.contains("DSR-0001"))
        XCTAssertFalse(text.lowercased().contains("ann"), "a tombstone holds no personal data")
    }

    func testTheNoTraceCheckFindsACopyLeftInTheVault() throws {
        let fixture = try RequestFixture()
        try "export for Ann: ann@example.com, Wintergreen".write(to: fixture.layout.directory.appendingPathComponent("notes.txt"),
                                                                 atomically: true, encoding: .utf8)
        let receipt = try fixture.desk().erase(subject: RequestFixture.ann).receipt
        XCTAssertFalse(receipt.traceCheck.clean)
        XCTAssertTrue(receipt.traceCheck.findings.contains { $0.hasPrefix("notes.txt: email identifier") }, "\(receipt.traceCheck.findings)")
        XCTAssertTrue(receipt.traceCheck.findings.contains { $0.hasPrefix("notes.txt: last name") }, "\(receipt.traceCheck.findings)")
        XCTAssertFalse(receipt.traceCheck.findings.joined().contains("ann@example.com"), "findings never repeat the value")
    }

    func testAReturningIdentifierStartsANewSubjectOrIsSuppressed() throws {
        let fixture = try RequestFixture()
        let old = try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.ann)).subject
        _ = try fixture.desk().erase(subject: RequestFixture.ann)
        let again = try fixture.ingest(#"{"type":"identify","userId":"u1","timestamp":"2026-03-01T12:00:00Z","traits":{"email":"ann@example.com"}}"#)
        XCTAssertEqual(again.accepted, 1)
        XCTAssertEqual(again.subjectsCreated, 1)
        let new = try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.ann))
        XCTAssertNotEqual(new.subject, old)
        XCTAssertEqual(new.totalEvents, 1, "nothing of the erased past comes back")

        // With suppression, Bo's identifiers are dropped at ingest instead.
        fixture.policy.suppressReturningIdentifiers = true
        let receipt = try fixture.desk().erase(subject: RequestFixture.bo).receipt
        XCTAssertEqual(receipt.shred.suppressedTokens, 2, "bo@example.com and user u2")
        let suppressed = try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-03-01T12:00:00Z","properties":{"revenue":3}}
            {"type":"identify","userId":"u9","timestamp":"2026-03-01T12:00:00Z","traits":{"email":"dee@example.com"}}
            """)
        XCTAssertEqual(suppressed.suppressed, 1)
        XCTAssertEqual(suppressed.accepted, 1, "other people still land")
        XCTAssertNil(try fixture.owner.subjectSummary(for: RequestFixture.bo))
    }

    func testTheShippedPolicyDoesNotSuppressAndTheKeyIsChecked() throws {
        XCTAssertFalse(try PolicyLoader.load(path: ScratchVault.defaultPolicyPath).suppressReturningIdentifiers)
        let text = try String(contentsOfFile: ScratchVault.defaultPolicyPath, encoding: .utf8)
        let on = text.replacingOccurrences(of: "suppress_returning_identifiers: false", with: "suppress_returning_identifiers: true")
        XCTAssertTrue(try PolicyLoader.parse(on, file: "p.yaml").suppressReturningIdentifiers)
        let broken = text.replacingOccurrences(of: "suppress_returning_identifiers: false", with: "suppress_returning_identifiers: sometimes")
        XCTAssertThrowsError(try PolicyLoader.parse(broken, file: "p.yaml")) { XCTAssertTrue("\($0)".contains("true or false"), "\($0)") }
    }
}

final class RestrictionAndRectificationTests: XCTestCase {
    func testRestrictionHidesAndLiftingRestores() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let (record, outcomes) = try desk.restrict(subject: RequestFixture.bo, reason: "accuracy contested")
        XCTAssertEqual(record.status, .completed)
        XCTAssertGreaterThan(outcomes.map(\.rowsRemoved).reduce(0, +), 0)
        XCTAssertNil(try fixture.supportRows()["bo@example.com"], "taken out of the projections at once")
        let report = try fixture.build()
        XCTAssertEqual(report.restricted, 1)
        XCTAssertNil(try fixture.supportRows()["bo@example.com"], "and left out of every build")
        XCTAssertNotNil(try fixture.supportRows()["ann@example.com"])
        XCTAssertNotNil(try fixture.owner.subjectSummary(for: RequestFixture.bo), "the data is kept")

        _ = try desk.lift(subject: RequestFixture.bo)
        XCTAssertEqual(try fixture.build().restricted, 0)
        XCTAssertNotNil(try fixture.supportRows()["bo@example.com"])
        XCTAssertThrowsError(try desk.lift(subject: RequestFixture.bo)) {
            XCTAssertEqual($0 as? RequestError, .notRestricted(RequestFixture.bo.description))
        }
        XCTAssertEqual(try desk.list().last?.status, .refused, "a lift with nothing to lift is answered, not left open")
        let kinds = try fixture.owner.eventLog().events(of: try XCTUnwrap(fixture.owner.subjectSummary(for: RequestFixture.bo)).subject).map(\.kind)
        XCTAssertEqual(kinds.filter { $0 == .restrict }.count, 2, "restriction and lifting are both in the log")
    }

    func testARestrictionFollowsAMerge() throws {
        let fixture = try RequestFixture()
        try fixture.ingest(#"{"type":"page","anonymousId":"visitor-7","name":"Menu","timestamp":"2026-02-01T09:00:00Z"}"#)
        _ = try fixture.desk().restrict(subject: Identifier(type: .anonymousID, raw: "visitor-7")!)
        // The visitor turns out to be Cy: the merged person stays restricted.
        let merged = try fixture.ingest(#"{"type":"alias","previousId":"visitor-7","userId":"u3","timestamp":"2026-02-02T09:00:00Z"}"#)
        XCTAssertEqual(merged.merges, 1)
        XCTAssertEqual(try fixture.build().restricted, 1)
        XCTAssertNil(try fixture.supportRows()["cy@example.com"])
    }

    func testRectificationChangesTheSingleView() throws {
        let fixture = try RequestFixture()
        XCTAssertEqual(try fixture.supportRows()["ann@example.com"]?["age"], .integer(37))
        let corrections = try RequestDesk.corrections(["last_name=Winterbourne", "age=38", "city=Dumfries"])
        let record = try fixture.desk().rectify(subject: RequestFixture.ann, set: corrections)
        XCTAssertNotNil(record.logSeq)
        try fixture.build()
        let ann = try XCTUnwrap(fixture.supportRows()["ann@example.com"])
        XCTAssertEqual(ann["age"], .integer(38))
        XCTAssertEqual(ann["last_name"], .text("Winterbourne"))
        XCTAssertEqual(ann["city"], .text("Dumfries"))
        XCTAssertEqual(ann["first_name"], .text("Annabelle"), "fields not corrected stay")
    }

    func testCorrectionsAreChecked() {
        XCTAssertThrowsError(try RequestDesk.corrections(["email=x@example.com"])) { XCTAssertTrue("\($0)".contains("identifier")) }
        XCTAssertThrowsError(try RequestDesk.corrections(["shoe_size=42"])) { XCTAssertTrue("\($0)".contains("cannot be rectified")) }
        XCTAssertThrowsError(try RequestDesk.corrections(["age=old"])) { XCTAssertTrue("\($0)".contains("number")) }
        XCTAssertThrowsError(try RequestDesk.corrections(["age=nan"])) { XCTAssertTrue("\($0)".contains("number")) }
        XCTAssertThrowsError(try RequestDesk.corrections(["birthday=17/05/1989"])) { XCTAssertTrue("\($0)".contains("date")) }
        XCTAssertThrowsError(try RequestDesk.corrections(["last_name"])) { XCTAssertTrue("\($0)".contains("FIELD=VALUE")) }
        XCTAssertEqual(try RequestDesk.corrections(["first_name= Ann "]), ["firstName": "Ann"])
    }
}

final class RegisterTests: XCTestCase {
    func testOnlyComplianceHandlesRequestsAndRefusalsAreAudited() throws {
        let fixture = try RequestFixture()
        let ownerDesk = try fixture.desk(as: fixture.owner)
        XCTAssertThrowsError(try ownerDesk.erase(subject: RequestFixture.ann)) { error in
            XCTAssertEqual(error as? VaultError, .notPermitted(actor: "owner", role: .owner, permission: .handleRequests))
        }
        XCTAssertThrowsError(try ownerDesk.export(subject: RequestFixture.ann, to: fixture.directory.appendingPathComponent("x.zip")))
        XCTAssertThrowsError(try ownerDesk.list())
        let denied = try fixture.owner.auditEntries(AuditFilter(decision: .denied))
        XCTAssertEqual(Set(denied.map(\.action)), [.requestErase, .requestExport, .requestList])
        XCTAssertNotNil(try fixture.owner.subjectSummary(for: RequestFixture.ann), "nothing was erased")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("x.zip").path))
    }

    func testDueDatesExtensionsAndCompletion() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let received = Timestamp.parse("2026-01-31T10:00:00Z")!
        let opened = try desk.open(.export, subject: RequestFixture.bo, receivedAt: received, note: "letter")
        XCTAssertEqual(opened.id, "DSR-0001")
        XCTAssertEqual(Timestamp.format(opened.dueAt), "2026-02-28T10:00:00.000Z", "one calendar month, clamped to the month's end")
        XCTAssertTrue(opened.isOverdue(at: fixture.now))

        XCTAssertThrowsError(try desk.extend(opened.id, months: 1, reason: " ")) { XCTAssertEqual($0 as? RequestError, .reasonRequired) }
        let extended = try desk.extend(opened.id, months: 2, reason: "many requests this month")
        XCTAssertEqual(Timestamp.format(extended.dueAt), "2026-04-30T10:00:00.000Z")
        XCTAssertFalse(extended.isOverdue(at: fixture.now))
        XCTAssertThrowsError(try desk.extend(opened.id, months: 1, reason: "again")) {
            XCTAssertEqual($0 as? RequestError, .extensionLimit(id: opened.id))
        }
        XCTAssertThrowsError(try desk.erase(subject: RequestFixture.bo, request: opened.id)) {
            XCTAssertEqual($0 as? RequestError, .wrongType(id: opened.id, type: "export", expected: "erase"))
        }
        XCTAssertThrowsError(try desk.export(subject: RequestFixture.ann, to: fixture.directory.appendingPathComponent("a.zip"), request: opened.id)) {
            XCTAssertEqual($0 as? RequestError, .otherSubject(id: opened.id))
        }
        let done = try desk.export(subject: RequestFixture.bo, to: fixture.directory.appendingPathComponent("bo.zip"), request: opened.id)
        XCTAssertEqual(done.record.id, opened.id)
        XCTAssertEqual(done.record.status, .completed)
        XCTAssertThrowsError(try desk.refuse(opened.id, reason: "late")) { XCTAssertEqual($0 as? RequestError, .closed(id: opened.id, status: "completed")) }

        let second = try desk.open(.erase, subject: RequestFixture.cy)
        let refused = try desk.refuse(second.id, reason: "identity could not be verified")
        XCTAssertEqual(refused.status, .refused)
        let list = try desk.list()
        XCTAssertEqual(list.map(\.id), ["DSR-0001", "DSR-0002"])
        // Extended after its due date (issue 16): the register says so.
        XCTAssertEqual(Array(list[0].notes.prefix(2)), ["received: letter",
                                                       "extended by 2 months after its due date (2026-02-28): many requests this month"])
        XCTAssertTrue(RequestDesk.wasExtendedOverdue(list[0]))
        XCTAssertEqual(list[0].notes.last, "exported \(done.events) events")
        XCTAssertEqual(list[1].notes.last, "refused: identity could not be verified")
        XCTAssertNotNil(try fixture.owner.subjectSummary(for: RequestFixture.cy), "a refused erasure erases nothing")

        // Reasons may describe the person: the register keeps them encrypted.
        XCTAssertEqual(try fixture.filesContaining("many requests this month"), [])
        XCTAssertEqual(try fixture.filesContaining("identity could not be verified"), [])
    }
}
