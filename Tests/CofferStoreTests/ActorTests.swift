import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import XCTest

final class ActorTests: XCTestCase {
    func secret(_ text: String) -> SecureBytes { SecureBytes(Array(text.utf8)) }

    /// A vault with some events, plus one actor of `role`.
    func vault(with role: Role, name: String = "someone") throws -> (TemporaryVault, Vault) {
        let temporary = try TemporaryVault()
        let owner = try temporary.create()
        _ = try owner.eventLog().append(sampleEvents(subjects: [try SubjectID.random(), try SubjectID.random()], perSubject: 3))
        try owner.addActor(name, role: role, passphrase: secret("\(name) passphrase"), kdf: TemporaryVault.testKDF)
        let actor = try Vault.unlock(layout: temporary.layout, actor: name, passphrase: secret("\(name) passphrase"))
        return (temporary, actor)
    }

    /// Tries every key an actor holds, as if it were the master key or a subject-key
    /// wrapping key, against every keyring row; returns how many rows opened.
    func keyringRowsOpened(by actor: Vault) throws -> Int {
        let rows = try actor.database.read { db in
            try Row.fetchAll(db, sql: "SELECT subject_id, key_version, wrapped_key FROM keyring")
        }
        XCTAssertFalse(rows.isEmpty)
        var opened = 0
        for key in actor.bundle.keys.values {
            var candidates = [key]
            if let derived = try? VaultKeys(master: key) { candidates.append(derived.subjectKeyWrapping) }
            for candidate in candidates {
                for row in rows {
                    let subject: Data = row[0], version: Int64 = row[1], wrapped: Data = row[2]
                    let context = LogChain.subjectKeyContext(vaultID: actor.vaultID, subjectID: Array(subject),
                                                             keyVersion: UInt32(version))
                    if (try? KeyWrap.unwrap(Array(wrapped), with: candidate, context: context)) != nil { opened += 1 }
                }
            }
        }
        return opened
    }

    func testAnAnalystsKeyslotCannotDecryptAnyEventEvenThroughTheLibrary() throws {
        let (_, analyst) = try vault(with: .analyst)
        XCTAssertEqual(analyst.heldKeys, ["audit-read", "audit-signing", "projection"])
        XCTAssertThrowsError(try analyst.keys())
        XCTAssertThrowsError(try analyst.eventLog())
        XCTAssertThrowsError(try analyst.identityGraph())
        XCTAssertEqual(try keyringRowsOpened(by: analyst), 0, "no key in the analyst's slot unwraps a subject key")
        XCTAssertNoThrow(try analyst.projectionKey())
        XCTAssertThrowsError(try analyst.subjectSummary(for: Identifier(argument: "user:x")!)) {
            XCTAssertEqual($0 as? VaultError, .notPermitted(actor: "someone", role: .analyst, permission: .readSubjects))
        }
    }

    func testAnAuditorHoldsOnlyTheAuditKeysAndCannotReadCustomerData() throws {
        let (temporary, auditor) = try vault(with: .auditor)
        XCTAssertEqual(auditor.heldKeys, ["audit-public", "audit-read"])
        XCTAssertThrowsError(try auditor.keys())
        XCTAssertThrowsError(try auditor.projectionKey())
        XCTAssertEqual(try keyringRowsOpened(by: auditor), 0)
        // The pinned public key is the one the master key derives.
        let expected = try temporary.unlock().keys().auditSigning.publicKey.rawRepresentation
        XCTAssertEqual(auditor.bundle[KeyBundle.Name.auditPublic]?.bytes.withUnsafeBytes { Array($0) }, expected)
        XCTAssertTrue(auditor.role.permissions.isDisjoint(with: [.readSubjects, .readProjections, .readConsent, .ingest]))
    }

    func testTheOwnerAndComplianceHoldTheMasterKeyAndCanDecrypt() throws {
        let (temporary, compliance) = try vault(with: .compliance)
        XCTAssertEqual(compliance.heldKeys, ["master"])
        XCTAssertEqual(try keyringRowsOpened(by: compliance), 2)
        XCTAssertEqual(try compliance.eventLog().count(), 6)
        XCTAssertThrowsError(try compliance.addActor("x", role: .analyst, passphrase: secret("whatever123"))) {
            XCTAssertEqual($0 as? VaultError, .notPermitted(actor: "someone", role: .compliance, permission: .manageActors))
        }
        XCTAssertEqual(try temporary.unlock().heldKeys, ["master"])
    }

    func testARemovedActorCannotUnlock() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        let owner = try temporary.unlock()
        try owner.removeActor("alice")
        XCTAssertThrowsError(try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase"))) {
            XCTAssertEqual($0 as? VaultError, .unknownActor("alice"))
        }
        XCTAssertEqual(try owner.actors().map(\.name), ["owner"])
    }

    func testActorManagementRefusesMistakes() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        let owner = try temporary.unlock()
        XCTAssertThrowsError(try owner.addActor("alice", role: .auditor, passphrase: secret("long enough"))) {
            XCTAssertEqual($0 as? VaultError, .actorExists("alice"))
        }
        XCTAssertThrowsError(try owner.addActor("Bad Name", role: .auditor, passphrase: secret("long enough"))) {
            XCTAssertEqual($0 as? VaultError, .invalidActorName("Bad Name"))
        }
        XCTAssertThrowsError(try owner.addActor("bob", role: .auditor, passphrase: secret("short"))) {
            XCTAssertEqual($0 as? VaultError, .weakPassphrase(minimumLength: 8))
        }
        XCTAssertThrowsError(try owner.removeActor("owner")) { XCTAssertEqual($0 as? VaultError, .lastOwner("owner")) }
        XCTAssertThrowsError(try owner.removeActor("nobody")) { XCTAssertEqual($0 as? VaultError, .unknownActor("nobody")) }
        XCTAssertEqual(try owner.actors().map(\.role), [.owner, .analyst])
    }

    func testChangingAPassphraseRetiresTheOldOne() throws {
        let (temporary, alice) = try vault(with: .analyst, name: "alice")
        try alice.changePassphrase(to: secret("a brand new passphrase"), kdf: TemporaryVault.testKDF)
        XCTAssertThrowsError(try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase"))) {
            XCTAssertEqual($0 as? VaultError, .wrongPassphrase(actor: "alice"))
        }
        let again = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("a brand new passphrase"))
        XCTAssertEqual(again.heldKeys, ["audit-read", "audit-signing", "projection"])
        XCTAssertEqual(try again.projectionKey().bytes.constantTimeEquals(alice.projectionKey().bytes), true)
    }

    func testEditingARoleInTheKeyslotsFileBreaksTheSlot() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        var file = try KeyslotFile.load(from: temporary.layout.keyslots)
        let index = file.slots.firstIndex { $0.actor == "alice" }!
        file.slots[index].role = .compliance
        try file.save(to: temporary.layout.keyslots)
        XCTAssertThrowsError(try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase")))
    }
}
