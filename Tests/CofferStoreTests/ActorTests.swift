import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing

struct ActorTests {
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
        #expect(!rows.isEmpty)
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

    @Test func testAnAnalystsKeyslotCannotDecryptAnyEventEvenThroughTheLibrary() throws {
        let (_, analyst) = try vault(with: .analyst)
        #expect(analyst.heldKeys == ["audit-read", "audit-signing", "projection"])
        #expect(throws: (any Error).self) { try analyst.keys() }
        #expect(throws: (any Error).self) { try analyst.eventLog() }
        #expect(throws: (any Error).self) { try analyst.identityGraph() }
        #expect(try keyringRowsOpened(by: analyst) == 0, "no key in the analyst's slot unwraps a subject key")
        #expect(throws: Never.self) { try analyst.projectionKey() }
        do { _ = try analyst.subjectSummary(for: Identifier(argument: "user:x")!); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .notPermitted(actor: "someone", role: .analyst, permission: .readSubjects))
        }
    }

    @Test func testAnAuditorHoldsOnlyTheAuditKeysAndCannotReadCustomerData() throws {
        let (temporary, auditor) = try vault(with: .auditor)
        #expect(auditor.heldKeys == ["audit-public", "audit-read"])
        #expect(throws: (any Error).self) { try auditor.keys() }
        #expect(throws: (any Error).self) { try auditor.projectionKey() }
        #expect(try keyringRowsOpened(by: auditor) == 0)
        // The pinned public key is the one the master key derives.
        let expected = try temporary.unlock().keys().auditSigning.publicKey.rawRepresentation
        #expect(auditor.bundle[KeyBundle.Name.auditPublic]?.bytes.withUnsafeBytes { Array($0) } == expected)
        #expect(auditor.role.permissions.isDisjoint(with: [.readSubjects, .readProjections, .readConsent, .ingest]))
    }

    @Test func testTheOwnerAndComplianceHoldTheMasterKeyAndCanDecrypt() throws {
        let (temporary, compliance) = try vault(with: .compliance)
        #expect(compliance.heldKeys == ["master"])
        #expect(try keyringRowsOpened(by: compliance) == 2)
        #expect(try compliance.eventLog().count() == 6)
        do { _ = try compliance.addActor("x", role: .analyst, passphrase: secret("whatever123")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .notPermitted(actor: "someone", role: .compliance, permission: .manageActors))
        }
        #expect(try temporary.unlock().heldKeys == ["master"])
    }

    @Test func testARemovedActorCannotUnlock() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        let owner = try temporary.unlock()
        try owner.removeActor("alice")
        do { _ = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .unknownActor("alice"))
        }
        #expect(try owner.actors().map(\.name) == ["owner"])
    }

    @Test func testActorManagementRefusesMistakes() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        let owner = try temporary.unlock()
        do { _ = try owner.addActor("alice", role: .auditor, passphrase: secret("long enough")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .actorExists("alice"))
        }
        do { _ = try owner.addActor("Bad Name", role: .auditor, passphrase: secret("long enough")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .invalidActorName("Bad Name"))
        }
        do { _ = try owner.addActor("bob", role: .auditor, passphrase: secret("short")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .weakPassphrase(minimumLength: 8))
        }
        do { _ = try owner.removeActor("owner"); Issue.record("expected an error") } catch { #expect(error as? VaultError == .lastOwner("owner")) }
        do { _ = try owner.removeActor("nobody"); Issue.record("expected an error") } catch { #expect(error as? VaultError == .unknownActor("nobody")) }
        #expect(try owner.actors().map(\.role) == [.owner, .analyst])
    }

    @Test func testChangingAPassphraseRetiresTheOldOne() throws {
        let (temporary, alice) = try vault(with: .analyst, name: "alice")
        try alice.changePassphrase(to: secret("a brand new passphrase"), kdf: TemporaryVault.testKDF)
        do { _ = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase")); Issue.record("expected an error") } catch {
            #expect(error as? VaultError == .wrongPassphrase(actor: "alice"))
        }
        let again = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("a brand new passphrase"))
        #expect(again.heldKeys == ["audit-read", "audit-signing", "projection"])
        #expect(try again.projectionKey().bytes.constantTimeEquals(alice.projectionKey().bytes) == true)
    }

    @Test func testEditingARoleInTheKeyslotsFileBreaksTheSlot() throws {
        let (temporary, _) = try vault(with: .analyst, name: "alice")
        var file = try KeyslotFile.load(from: temporary.layout.keyslots)
        let index = file.slots.firstIndex { $0.actor == "alice" }!
        file.slots[index].role = .compliance
        try file.save(to: temporary.layout.keyslots)
        #expect(throws: (any Error).self) { try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: secret("alice passphrase")) }
    }
}
