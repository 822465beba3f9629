import CofferCrypto
@testable import CofferStore
import Foundation
import Testing

struct VaultLifecycleTests {
    @Test("init creates the files and the owner can unlock")
    func createAndUnlock() throws {
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        #expect(tmp.layout.isInitialized)
        #expect(FileManager.default.fileExists(atPath: tmp.layout.database.path))
        let again = try tmp.unlock()
        #expect(again.vaultID == vault.vaultID)
        #expect(again.role == .owner)
        #expect(try again.keys().checkpointSigning.publicKey == vault.keys().checkpointSigning.publicKey)
    }

    @Test("a wrong passphrase fails with one clear error and changes nothing")
    func wrongPassphrase() throws {
        let tmp = try TemporaryVault()
        _ = try tmp.create()
        let before = try tmp.allFiles().filter { !$0.name.hasSuffix("-shm") }
        #expect(throws: VaultError.wrongPassphrase(actor: "owner")) { try tmp.unlock("not the passphrase") }
        let after = try tmp.allFiles().filter { !$0.name.hasSuffix("-shm") }
        #expect(before.map(\.name).sorted() == after.map(\.name).sorted())
        for (b, a) in zip(before.sorted { $0.name < $1.name }, after.sorted { $0.name < $1.name }) {
            #expect(b.bytes == a.bytes, "\(b.name) changed")
        }
    }

    @Test("init refuses an existing vault, a short passphrase; unlock refuses a missing vault and unknown actor")
    func refusals() throws {
        let tmp = try TemporaryVault()
        #expect(throws: VaultError.notInitialized(path: tmp.layout.directory.path)) { try tmp.unlock() }
        #expect(throws: VaultError.weakPassphrase(minimumLength: 8)) {
            try Vault.create(layout: tmp.layout, ownerPassphrase: SecureBytes(Array("short".utf8)), kdf: TemporaryVault.testKDF)
        }
        _ = try tmp.create()
        #expect(throws: VaultError.alreadyInitialized(path: tmp.layout.directory.path)) { try tmp.create() }
        #expect(throws: VaultError.unknownActor("mallory")) {
            try Vault.unlock(layout: tmp.layout, actor: "mallory", passphrase: SecureBytes(Array(TemporaryVault.passphrase.utf8)))
        }
    }

    @Test("editing the role in keyslots.json makes the slot fail to open")
    func keyslotRoleIsBound() throws {
        let tmp = try TemporaryVault()
        _ = try tmp.create()
        var file = try KeyslotFile.load(from: tmp.layout.keyslots)
        file.slots[0].role = .analyst
        try file.save(to: tmp.layout.keyslots)
        // Still refused; since issue 15 it says the slot was edited rather than "wrong passphrase".
        #expect(throws: VaultError.corruptFile(path: tmp.layout.keyslots.path, reason: "keyslot 'owner' was edited: it says role "
            + "analyst, but it was sealed for role owner; restore keyslots.json from a backup")) { try tmp.unlock() }
    }

    @Test("a corrupt keyslots file or database gives a clear error, not a crash")
    func corruptFiles() throws {
        let tmp = try TemporaryVault()
        _ = try tmp.create()
        let saved = try Data(contentsOf: tmp.layout.keyslots)
        try Data("{ not json".utf8).write(to: tmp.layout.keyslots)
        #expect {
            try tmp.unlock()
        } throws: { error in
            guard case VaultError.corruptFile = error else { return false }
            return "\(error)".contains("keyslots.json")
        }
        try saved.write(to: tmp.layout.keyslots)
        for url in tmp.layout.databaseFiles { try? FileManager.default.removeItem(at: url) }
        try Data(repeating: 0x42, count: 8192).write(to: tmp.layout.database)
        #expect {
            try tmp.unlock()
        } throws: { error in
            if case VaultError.corruptFile = error { return true }
            return false
        }
    }

    @Test("an interrupted init (database, no keyslots, no events) is replaced; one with events is refused")
    func leftoverDatabase() throws {
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        try FileManager.default.removeItem(at: tmp.layout.keyslots)
        _ = try tmp.create()  // empty leftover: replaced
        let log = try tmp.unlock().eventLog()
        try log.append(sampleEvents(subjects: [SubjectID.random()], perSubject: 1))
        _ = vault
        try FileManager.default.removeItem(at: tmp.layout.keyslots)
        #expect(throws: VaultError.orphanDatabase(path: tmp.layout.database.path)) { try tmp.create() }
    }
}
