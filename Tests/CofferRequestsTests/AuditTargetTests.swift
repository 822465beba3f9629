import CofferIngest
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing
import CofferPolicy

/// Issue 16, item 4: audit targets and details never hold an identifier, and
/// `audit log --subject` finds what the export's access log lists.
struct AuditTargetTests {
    /// Every identifier and clear value of the fixture's people.
    static let identifiers = ["u1", "u2", "u3", "ann@example.com", "bo@example.com", "cy@example.com", "+447700900123",
                              "anon-ann-1", "annabelle", "wintergreen", "bodhi", "marchetti", "cyrielle"]

    @Test("a support view is audited under a keyed target, not the customer's user id; no entry holds an identifier")
    func noIdentifierInTheLedger() throws {
        let fixture = try RequestFixture()
        let reader = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .view)
        let annID = try #require(try reader.customerID(for: RequestFixture.ann))
        #expect(annID == "u1", "the support file shows the raw user id: exactly what must not reach the ledger")
        #expect(try reader.view(customerID: annID).rows.count == 1)
        _ = try fixture.owner.subjectSummary(for: RequestFixture.bo)
        _ = try fixture.desk().export(subject: RequestFixture.cy, to: fixture.directory.appendingPathComponent("cy.zip"))

        for entry in try fixture.owner.auditEntries() {
            let d = entry.details
            let text = [d.target, d.reason, d.purpose, d.actor].compactMap { $0 }.joined(separator: " ").lowercased()
            for identifier in Self.identifiers {
                let hit = text.range(of: #"(^|[^0-9a-z])"# + NSRegularExpression.escapedPattern(for: identifier) + #"($|[^0-9a-z])"#,
                                     options: .regularExpression)
                #expect(hit == nil, "entry \(entry.seq) (\(entry.action)) holds \(identifier): \(text)")
            }
        }
    }

    @Test("audit log --subject and the export's access log see the same entries, the view included")
    func subjectFilterAgreesWithExport() throws {
        let fixture = try RequestFixture()
        let reader = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: "support", action: .view)
        _ = try reader.view(customerID: try #require(try reader.customerID(for: RequestFixture.ann)))
        _ = try fixture.owner.subjectSummary(for: RequestFixture.ann)
        _ = try fixture.owner.subjectSummary(for: RequestFixture.bo)

        let ann = try #require(try fixture.owner.subjectSummary(for: RequestFixture.ann)).subject
        let targets = try PersonProfile.auditTargets(of: ann, vault: fixture.owner, policy: fixture.policy)
        let byFilter = try fixture.owner.auditEntries(AuditFilter(targets: targets))
        #expect(byFilter.contains { $0.action == .view }, "the support view of Ann is found by her targets")
        #expect(byFilter.filter { $0.action == .subjectShow }.count == 2, "both lookups of Ann, not Bo's")

        let out = fixture.directory.appendingPathComponent("ann.zip")
        _ = try fixture.desk().export(subject: RequestFixture.ann, to: out)
        let accessLog = try #require(try BundleVerifier.files(out)["access_log.json"])
        let log = try #require(try JSONSerialization.jsonObject(with: Data(accessLog)) as? [[String: Any]])
        // The export itself is audited after the bundle is written: the access log holds what came before it.
        #expect(log.count == byFilter.count)
        #expect(log.map { $0["action"] as? String } == byFilter.map(\.action.rawValue))
    }
}

/// Issue 16, item 6: a one-person café lets the owner act as DPO, when the policy says so.
struct OwnerAsDPOTests {
    @Test("the owner handles requests only when the policy allows it, and each is audited as the owner acting as DPO")
    func ownerActsAsDPO() throws {
        let fixture = try RequestFixture()
        #expect(throws: VaultError.self) { try fixture.desk(as: fixture.owner).list() }
        fixture.policy.controller.ownerActsAsDPO = true
        let desk = try fixture.desk(as: fixture.owner)
        let out = fixture.directory.appendingPathComponent("bo.zip")
        #expect(try desk.export(subject: RequestFixture.bo, to: out).found)
        let entries = try fixture.owner.auditEntries(AuditFilter(action: .requestExport))
        #expect(entries.contains { $0.details.actor == "owner" && $0.details.reason?.contains("the owner acts as DPO") == true })
    }
}
