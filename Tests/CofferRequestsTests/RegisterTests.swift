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
