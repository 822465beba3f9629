package import CofferCrypto
package import CofferStore
package import Foundation

/// A scratch directory with a vault location inside it, removed when released:
/// the one way Coffer's tests make a vault. Vaults are created with cheap
/// scrypt parameters (`kdf`), so a test unlocks in milliseconds, not seconds.
package final class ScratchVault {
    /// scrypt N=2^10: fast for tests, never for real vaults.
    package static let kdf = Scrypt.Parameters(logN: 10, r: 8, p: 1)
    /// The package's root directory (for `policies/`, `Tests/Fixtures/`).
    package static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The shipped default policy.
    package static var defaultPolicyPath: String { repository.appendingPathComponent("policies/default.yaml").path }

    package let directory: URL
    package let layout: VaultLayout
    /// The owner's passphrase.
    package let passphrase: String

    /// A fresh scratch directory (created) named after `purpose`; the vault is not created yet.
    package init(_ purpose: String, passphrase: String = "scratch vault passphrase") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-\(purpose)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        self.passphrase = passphrase
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Creates the vault (owner: `passphrase`).
    package func create() throws -> Vault {
        try Vault.create(layout: layout, ownerPassphrase: Self.secret(passphrase), kdf: Self.kdf)
    }

    /// Unlocks the vault as `actor`.
    package func unlock(actor: String = "owner", passphrase: String? = nil) throws -> Vault {
        try Vault.unlock(layout: layout, actor: actor, passphrase: Self.secret(passphrase ?? self.passphrase))
    }

    /// Writes `text` to `name` in the scratch directory and returns its URL.
    @discardableResult
    package func file(_ name: String, _ text: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// A passphrase as the library takes it.
    package static func secret(_ text: String) -> SecureBytes { SecureBytes(Array(text.utf8)) }
}
