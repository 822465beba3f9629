import CofferCrypto
@testable import CofferStore
import Foundation
import Testing

/// Issue 15, class 10: a hostile keyslots.json, weak passphrases and misleading errors.
struct KeyslotHardeningTests {
    static func editSlot(_ vault: TemporaryVault, _ edit: (inout [String: Any]) -> Void) throws {
        let url = vault.layout.keyslots
        var file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var slots = try #require(file["slots"] as? [[String: Any]])
        edit(&slots[0])
        file["slots"] = slots
        try JSONSerialization.data(withJSONObject: file).write(to: url)
    }

    @Test("scrypt parameters out of range are refused at once, not run")
    func unboundedScrypt() throws {
        let vault = try TemporaryVault()
        _ = try vault.create()
        try Self.editSlot(vault) { $0["kdf"] = ["logN": 40, "r": 8, "p": 1] }
        let start = Date()
        #expect {
            try vault.unlock()
        } throws: { error in
            guard case let .corruptFile(_, reason)? = error as? VaultError else { return false }
            return reason.contains("scrypt parameters out of range")
        }
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test("a slot whose role was edited says so, instead of 'wrong passphrase'")
    func editedRole() throws {
        let vault = try TemporaryVault()
        _ = try vault.create()
        try Self.editSlot(vault) { $0["role"] = "auditor" }
        #expect {
            try vault.unlock()
        } throws: { error in
            guard case let .corruptFile(_, reason)? = error as? VaultError else { return false }
            return reason.contains("was edited") && reason.contains("sealed for role owner")
        }
        // A wrong passphrase is still called that.
        #expect(throws: VaultError.wrongPassphrase(actor: "owner")) { try TemporaryVault.reopen(vault, "not the passphrase at all") }
    }

    @Test("a vault whose keyslots.json is missing is reported as such, not as 'no vault'")
    func missingKeyslots() throws {
        let vault = try TemporaryVault()
        _ = try vault.create()
        try FileManager.default.removeItem(at: vault.layout.keyslots)
        #expect(throws: VaultError.orphanDatabase(path: vault.layout.database.path)) { try vault.unlock() }
    }

    @Test("passphrases are counted in characters, and blank ones are refused")
    func passphraseRules() throws {
        for weak in ["        ", "\t \t \t \t ", "éééé", "short"] {
            #expect(throws: VaultError.weakPassphrase(minimumLength: 8), "\(weak)") {
                try Vault.checkPassphrase(SecureBytes(Array(weak.utf8)))
            }
        }
        for fine in ["éééééééé", "correct horse", "12345678"] {
            #expect(throws: Never.self) { try Vault.checkPassphrase(SecureBytes(Array(fine.utf8))) }
        }
    }

    @Test("init makes an existing directory owner-only")
    func existingDirectoryMode() throws {
        let vault = try TemporaryVault()
        try FileManager.default.createDirectory(at: vault.layout.directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        _ = try vault.create()
        let mode = try FileManager.default.attributesOfItem(atPath: vault.layout.directory.path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }
}

extension TemporaryVault {
    static func reopen(_ vault: TemporaryVault, _ passphrase: String) throws {
        _ = try vault.unlock(passphrase)
    }
}
