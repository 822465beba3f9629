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
                                         "segments.json", "access_log.json", "processing.json", "manifest.json", "manifest.sig"])
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
        let segments = try #require(JSONSerialization.jsonObject(with: Data(files["segments.json"]!)) as? [[String: String]])
        #expect(Set(segments.map { $0["segment"]! }) == ["spenders", "browsers"])
        #expect(segments.first { $0["segment"] == "spenders" }?["rule"] == "total_spend >= 20")

        // Signed manifest: verifies with the vault's audit key; a changed file or another key fails.
        let auditKey = try fixture.owner.auditPublicKey()
        let manifest = try BundleVerifier.verify(out, publicKey: auditKey)
        #expect(manifest.files.count == 9)
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

struct ErasureTests {
    @Test func testErasureLeavesNoTraceAndKeepsEveryoneElse() throws {
        let fixture = try RequestFixture()
        let before = try fixture.supportRows()
        #expect(before["ann@example.com"] != nil)
        let eventsBefore = try fixture.owner.eventLog().count()
        let summary = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann))
        let oldIDs = [summary.subject] + summary.merged
        let keysBefore = try fixture.owner.database.read { db in
            try oldIDs.reduce(0) { $0 + (try Int.fetchOne(db, sql: "SELECT count(*) FROM keyring WHERE subject_id = ?", arguments: [Data($1.bytes)]) ?? 0) }
        }

        let signed = try fixture.desk().erase(subject: RequestFixture.ann)
        let receipt = signed.receipt
        #expect(receipt.traceCheck.clean, "\(receipt.traceCheck.findings)")
        #expect(receipt.traceCheck.filesScanned > 3)
        #expect(receipt.shred.keysDestroyed == keysBefore)
        #expect(keysBefore == 2, "Ann's record key and the merged anonymous subject's: every month key derives from them")
        #expect(receipt.shred.eventsUnreadable == summary.totalEvents)
        #expect(receipt.shred.quarantinedRecords == 1, "the quarantined record with Ann's email, not Bo's")
        #expect(receipt.shred.walTruncated)
        #expect(receipt.tombstoneSeq == Int64(eventsBefore + 1))

        // Raw bytes of every vault file, WAL and shm included: none of Ann's data.
        for value in ["ann@example.com", "+447700900123", "Annabelle", "Wintergreen", "Kirkcudbright", "Pistachio", "anon-ann-1"] {
            #expect(try fixture.filesContaining(value) == [], "\(value) left in the vault")
        }
        // Nothing decrypts for her any more; the identity graph does not know her.
        let log = try fixture.owner.eventLog()
        for id in oldIDs { #expect(try log.events(of: id) == []) }
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.ann) == nil)
        let quarantine = try fixture.owner.quarantinedRecords()
        #expect(quarantine.count == 1)
        #expect(String(decoding: quarantine[0].record, as: UTF8.self).contains("bo@example.com"))

        // Projections: Ann removed at once, everyone else kept; a rebuild agrees.
        let after = try fixture.supportRows()
        #expect(after["ann@example.com"] == nil)
        #expect(after["bo@example.com"] == before["bo@example.com"])
        #expect(after.count == before.count - 1)
        #expect(receipt.projections.contains { $0.file == "build-state.enc" && $0.fileDeleted }, "the saved aggregates go too")
        let rebuilt = try fixture.build()
        #expect(rebuilt.people == 2)
        #expect(rebuilt.startSeq == 0, "without the state, the next build reads the whole log")

        // The log is intact, and export now finds nothing.
        let verification = try LogVerifier.verify(layout: fixture.layout)
        #expect(verification.isValid, "\(String(describing: verification.failure))")
        let out = fixture.directory.appendingPathComponent("after.zip")
        let export = try fixture.desk().export(subject: RequestFixture.ann, to: out)
        #expect(!export.found)
        #expect(Set(try BundleVerifier.files(out).keys) == ["README.txt", "subject.json", "manifest.json", "manifest.sig"])
        let bo = try fixture.desk().export(subject: RequestFixture.bo, to: fixture.directory.appendingPathComponent("bo.zip"))
        let boSummary = try #require(try fixture.owner.subjectSummary(for: RequestFixture.bo))
        #expect(bo.events == boSummary.totalEvents)

        // The receipt is signed by the audit key; a changed receipt fails.
        #expect(try RequestDesk.verify(signed, publicKey: fixture.owner.auditPublicKey()) == receipt)
        var forged = signed
        forged.receipt.shred.keysDestroyed = 3
        #expect(throws: (any Error).self) { try RequestDesk.verify(forged, publicKey: fixture.owner.auditPublicKey()) }
        let decoded = try JSONDecoder().decode(SignedReceipt.self, from: signed.encoded())
        #expect(try RequestDesk.verify(decoded, publicKey: fixture.owner.auditPublicKey()) == receipt, "the file round-trips")
    }

    @Test func testErasureDoesNotRewriteTheLog() throws {
        let fixture = try RequestFixture()
        let rows = { try fixture.owner.database.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, hash, ciphertext FROM events ORDER BY seq").map { "\($0[0] as Int64):\(Array($0[1] as Data).hexString):\(Array($0[2] as Data).hexString)" }
        } }
        let before = try rows()
        _ = try fixture.desk().erase(subject: RequestFixture.ann)
        let after = try rows()
        #expect(Array(after.prefix(before.count)) == before, "every earlier row unchanged")
        #expect(after.count == before.count + 1, "only the tombstone appended")
        let tombstone = try fixture.owner.eventLog().events(of: try fixture.owner.database.read { db in
            try SubjectID(bytes: Array(Data.fetchOne(db, sql: "SELECT subject_id FROM events ORDER BY seq DESC LIMIT 1")!))
        })
        #expect(tombstone.first?.kind == .erase)
        let text = String(decoding: tombstone.first?.payload ?? [], as: UTF8.self)
        #expect(text.contains("DSR-0001"))
        #expect(!(text.lowercased().contains("ann")), "a tombstone holds no personal data")
    }

    @Test func testTheNoTraceCheckFindsACopyLeftInTheVault() throws {
        let fixture = try RequestFixture()
        try "export for Ann: ann@example.com, Wintergreen".write(to: fixture.layout.directory.appendingPathComponent("notes.txt"),
                                                                 atomically: true, encoding: .utf8)
        let receipt = try fixture.desk().erase(subject: RequestFixture.ann).receipt
        #expect(!receipt.traceCheck.clean)
        #expect(receipt.traceCheck.findings.contains { $0.hasPrefix("notes.txt: email identifier") }, "\(receipt.traceCheck.findings)")
        #expect(receipt.traceCheck.findings.contains { $0.hasPrefix("notes.txt: last name") }, "\(receipt.traceCheck.findings)")
        #expect(!(receipt.traceCheck.findings.joined().contains("ann@example.com")), "findings never repeat the value")
    }

    @Test func testAReturningIdentifierStartsANewSubjectOrIsSuppressed() throws {
        let fixture = try RequestFixture()
        let old = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann)).subject
        _ = try fixture.desk().erase(subject: RequestFixture.ann)
        let again = try fixture.ingest(#"{"type":"identify","userId":"u1","timestamp":"2026-03-01T12:00:00Z","traits":{"email":"ann@example.com"}}"#)
        #expect(again.accepted == 1)
        #expect(again.subjectsCreated == 1)
        let new = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann))
        #expect(new.subject != old)
        #expect(new.totalEvents == 1, "nothing of the erased past comes back")

        // With suppression, Bo's identifiers are dropped at ingest instead.
        fixture.policy.suppressReturningIdentifiers = true
        let receipt = try fixture.desk().erase(subject: RequestFixture.bo).receipt
        #expect(receipt.shred.suppressedTokens == 2, "bo@example.com and user u2")
        let suppressed = try fixture.ingest("""
            {"type":"track","event":"Order Completed","userId":"u2","timestamp":"2026-03-01T12:00:00Z","properties":{"revenue":3}}
            {"type":"identify","userId":"u9","timestamp":"2026-03-01T12:00:00Z","traits":{"email":"dee@example.com"}}
            """)
        #expect(suppressed.suppressed == 1)
        #expect(suppressed.accepted == 1, "other people still land")
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.bo) == nil)
    }

    @Test func testTheShippedPolicyDoesNotSuppressAndTheKeyIsChecked() throws {
        #expect(!(try PolicyLoader.load(path: ScratchVault.defaultPolicyPath).suppressReturningIdentifiers))
        let text = try String(contentsOfFile: ScratchVault.defaultPolicyPath, encoding: .utf8)
        let on = text.replacingOccurrences(of: "suppress_returning_identifiers: false", with: "suppress_returning_identifiers: true")
        #expect(try PolicyLoader.parse(on, file: "p.yaml").suppressReturningIdentifiers)
        let broken = text.replacingOccurrences(of: "suppress_returning_identifiers: false", with: "suppress_returning_identifiers: sometimes")
        do { _ = try PolicyLoader.parse(broken, file: "p.yaml"); Issue.record("expected an error") } catch { #expect("\(error)".contains("true or false"), "\(error)") }
    }
}

struct RestrictionAndRectificationTests {
    @Test func testRestrictionHidesAndLiftingRestores() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let (record, outcomes) = try desk.restrict(subject: RequestFixture.bo, reason: "accuracy contested")
        #expect(record.status == .completed)
        #expect(outcomes.map(\.rowsRemoved).reduce(0, +) > 0)
        #expect(try fixture.supportRows()["bo@example.com"] == nil, "taken out of the projections at once")
        let report = try fixture.build()
        #expect(report.restricted == 1)
        #expect(try fixture.supportRows()["bo@example.com"] == nil, "and left out of every build")
        #expect(try fixture.supportRows()["ann@example.com"] != nil)
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.bo) != nil, "the data is kept")

        _ = try desk.lift(subject: RequestFixture.bo)
        #expect(try fixture.build().restricted == 0)
        #expect(try fixture.supportRows()["bo@example.com"] != nil)
        do { _ = try desk.lift(subject: RequestFixture.bo); Issue.record("expected an error") } catch {
            #expect(error as? RequestError == .notRestricted(RequestFixture.bo.description))
        }
        #expect(try desk.list().last?.status == .refused, "a lift with nothing to lift is answered, not left open")
        let kinds = try fixture.owner.eventLog().events(of: try #require(try fixture.owner.subjectSummary(for: RequestFixture.bo)).subject).map(\.kind)
        #expect(kinds.filter { $0 == .restrict }.count == 2, "restriction and lifting are both in the log")
    }

    @Test func testARestrictionFollowsAMerge() throws {
        let fixture = try RequestFixture()
        try fixture.ingest(#"{"type":"page","anonymousId":"visitor-7","name":"Menu","timestamp":"2026-02-01T09:00:00Z"}"#)
        _ = try fixture.desk().restrict(subject: Identifier(type: .anonymousID, raw: "visitor-7")!)
        // The visitor turns out to be Cy: the merged person stays restricted.
        let merged = try fixture.ingest(#"{"type":"alias","previousId":"visitor-7","userId":"u3","timestamp":"2026-02-02T09:00:00Z"}"#)
        #expect(merged.merges == 1)
        #expect(try fixture.build().restricted == 1)
        #expect(try fixture.supportRows()["cy@example.com"] == nil)
    }

    @Test func testRectificationChangesTheSingleView() throws {
        let fixture = try RequestFixture()
        #expect(try fixture.supportRows()["ann@example.com"]?["age"] == .integer(37))
        let corrections = try RequestDesk.corrections(["last_name=Winterbourne", "age=38", "city=Dumfries"])
        let record = try fixture.desk().rectify(subject: RequestFixture.ann, set: corrections)
        #expect(record.logSeq != nil)
        try fixture.build()
        let ann = try #require(fixture.supportRows()["ann@example.com"])
        #expect(ann["age"] == .integer(38))
        #expect(ann["last_name"] == .text("Winterbourne"))
        #expect(ann["city"] == .text("Dumfries"))
        #expect(ann["first_name"] == .text("Annabelle"), "fields not corrected stay")
    }

    @Test func testCorrectionsAreChecked() throws {
        do { _ = try RequestDesk.corrections(["email=x@example.com"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("identifier")) }
        do { _ = try RequestDesk.corrections(["shoe_size=42"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("cannot be rectified")) }
        do { _ = try RequestDesk.corrections(["age=old"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("number")) }
        do { _ = try RequestDesk.corrections(["age=nan"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("number")) }
        do { _ = try RequestDesk.corrections(["birthday=17/05/1989"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("date")) }
        do { _ = try RequestDesk.corrections(["last_name"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("FIELD=VALUE")) }
        let corrected = try RequestDesk.corrections(["first_name= Ann "])
        #expect(corrected == ["firstName": "Ann"])
    }
}

struct RegisterTests {
    @Test func testOnlyComplianceHandlesRequestsAndRefusalsAreAudited() throws {
        let fixture = try RequestFixture()
        let ownerDesk = try fixture.desk(as: fixture.owner)
        do { _ = try ownerDesk.erase(subject: RequestFixture.ann); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .notPermitted(actor: "owner", role: .owner, permission: .handleRequests))
        }
        #expect(throws: (any Error).self) { try ownerDesk.export(subject: RequestFixture.ann, to: fixture.directory.appendingPathComponent("x.zip")) }
        #expect(throws: (any Error).self) { try ownerDesk.list() }
        let denied = try fixture.owner.auditEntries(AuditFilter(decision: .denied))
        #expect(Set(denied.map(\.action)) == [.requestErase, .requestExport, .requestList])
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.ann) != nil, "nothing was erased")
        #expect(!(FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("x.zip").path)))
    }

    @Test func testDueDatesExtensionsAndCompletion() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let received = Timestamp.parse("2026-01-31T10:00:00Z")!
        let opened = try desk.open(.export, subject: RequestFixture.bo, receivedAt: received, note: "letter")
        #expect(opened.id == "DSR-0001")
        #expect(Timestamp.format(opened.dueAt) == "2026-02-28T10:00:00.000Z", "one calendar month, clamped to the month's end")
        #expect(opened.isOverdue(at: fixture.now))

        do { _ = try desk.extend(opened.id, months: 1, reason: " "); Issue.record("expected an error") } catch { #expect(error as? RequestError == .reasonRequired) }
        let extended = try desk.extend(opened.id, months: 2, reason: "many requests this month")
        #expect(Timestamp.format(extended.dueAt) == "2026-04-30T10:00:00.000Z")
        #expect(!(extended.isOverdue(at: fixture.now)))
        do { _ = try desk.extend(opened.id, months: 1, reason: "again"); Issue.record("expected an error") } catch {
            #expect(error as? RequestError == .extensionLimit(id: opened.id))
        }
        do { _ = try desk.erase(subject: RequestFixture.bo, request: opened.id); Issue.record("expected an error") } catch {
            #expect(error as? RequestError == .wrongType(id: opened.id, type: "export", expected: "erase"))
        }
        do { _ = try desk.export(subject: RequestFixture.ann, to: fixture.directory.appendingPathComponent("a.zip"), request: opened.id); Issue.record("expected an error") } catch {
            #expect(error as? RequestError == .otherSubject(id: opened.id))
        }
        let done = try desk.export(subject: RequestFixture.bo, to: fixture.directory.appendingPathComponent("bo.zip"), request: opened.id)
        #expect(done.record.id == opened.id)
        #expect(done.record.status == .completed)
        do { _ = try desk.refuse(opened.id, reason: "late"); Issue.record("expected an error") } catch { #expect(error as? RequestError == .closed(id: opened.id, status: "completed")) }

        let second = try desk.open(.erase, subject: RequestFixture.cy)
        let refused = try desk.refuse(second.id, reason: "identity could not be verified")
        #expect(refused.status == .refused)
        let list = try desk.list()
        #expect(list.map(\.id) == ["DSR-0001", "DSR-0002"])
        // Extended after its due date (issue 16): the register says so.
        #expect(Array(list[0].notes.prefix(2)) == ["received: letter",
                                                       "extended by 2 months after its due date (2026-02-28): many requests this month"])
        #expect(RequestDesk.wasExtendedOverdue(list[0]))
        #expect(list[0].notes.last == "exported \(done.events) events")
        #expect(list[1].notes.last == "refused: identity could not be verified")
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.cy) != nil, "a refused erasure erases nothing")

        // Reasons may describe the person: the register keeps them encrypted.
        #expect(try fixture.filesContaining("many requests this month") == [])
        #expect(try fixture.filesContaining("identity could not be verified") == [])
    }
}
