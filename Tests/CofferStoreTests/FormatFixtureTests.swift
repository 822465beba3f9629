import CofferCrypto
import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// A vault made by format version 6 (`coffer init`, an import of five events and a
/// broken line, `project build`, `coffer backup`), checked in under
/// Tests/Fixtures. Any later change of the vault's format must still open it:
/// a format change needs a migration, not a fresh vault.
struct FormatFixtureTests {
    static let fixture = ScratchVault.repository.appendingPathComponent("Tests/Fixtures/vault-format-6")
    static let passphrase = "format fixture passphrase"

    /// A copy of the fixture (opening migrates it; the checked-in files never change).
    func copy() throws -> ScratchVault {
        let scratch = try ScratchVault("format", passphrase: Self.passphrase)
        try FileManager.default.createDirectory(at: scratch.layout.directory, withIntermediateDirectories: true)
        for name in [VaultLayout.databaseName, VaultLayout.auditName, VaultLayout.keyslotsName] {
            try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent(name), to: scratch.layout.directory.appendingPathComponent(name))
        }
        return scratch
    }

    @Test("a vault of format 6 opens, verifies and reads back its people, events, consent and seals")
    func formatSixOpens() throws {
        let scratch = try copy()
        let layout = scratch.layout
        let log = try LogVerifier.verify(layout: layout)
        #expect(log.isValid && log.eventCount == 7, "\(String(describing: log.failure))")
        #expect(try AuditVerifier.verify(layout: layout).failure == nil)

        let owner = try scratch.unlock()
        try owner.verifySeals()
        let graph = try owner.identityGraph()
        let one = try #require(try owner.database.read { try graph.subject(for: Identifier(type: .email, raw: "fixture.one@example.com")!, in: $0) })
        let events = try owner.database.read { try graph.events(ofPerson: one, in: $0) }
        #expect(events.map(\.kind) == [.identify, .track, .consent, .page, .merge, .alias], "\(events.map(\.kind))")
        #expect(String(decoding: events[0].payload, as: UTF8.self).contains("\"firstName\":\"Fixture\""))
        #expect(try owner.subjectSummary(for: Identifier(type: .email, raw: "fixture.two@example.com")!)?.totalEvents == 1)
        let consent = try owner.database.read { try owner.consentLedger().current(of: one, in: $0) }
        #expect(consent["marketing"] == .granted)
        #expect(try owner.database.read { try owner.quarantine().count(in: $0) } == 1)
    }
}
