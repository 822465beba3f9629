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
