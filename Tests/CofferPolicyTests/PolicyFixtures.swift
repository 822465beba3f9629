import CofferCrypto
@testable import CofferPolicy
import CofferStore
import Foundation

/// The shipped default policy, read from the repository.
func defaultPolicyPath() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("policies/default.yaml").path
}

/// A small valid policy; tests replace parts of it to make mistakes.
let minimalPolicy = """
    name: test
    purposes:
      analytics:
        lawful_basis: legitimate_interests
      marketing:
        lawful_basis: consent
        consent_valid_for: 30d
    field_classes:
      direct_identifier: [email]
      quasi_identifier: [age]
      behavioural: [spend]
    field_rules:
      age: { generalise: band 10 }
    access:
      analyst:
        purposes:
          analytics: { direct_identifier: tokenise, quasi_identifier: generalise, behavioural: allow }
    """

/// Parses policy text, failing the test with the error if it does not load.
func parsePolicy(_ text: String) throws -> Policy {
    try PolicyLoader.parse(text, file: "test.yaml")
}

/// Expects `text` to be refused; returns the error.
func policyError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> PolicyError? {
    do {
        _ = try PolicyLoader.parse(text, file: "test.yaml")
        return nil
    } catch let error as PolicyError {
        return error
    } catch {
        return PolicyError(file: "?", "unexpected \(error)")
    }
}

/// A vault in a temporary directory (cheap scrypt), removed on deinit.
final class PolicyTestVault {
    let directory: URL
    let layout: VaultLayout
    let vault: Vault

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-policy-\(UUID().uuidString)")
        layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
        vault = try Vault.create(layout: layout, ownerPassphrase: SecureBytes(Array("policy test passphrase".utf8)),
                                 kdf: Scrypt.Parameters(logN: 10, r: 8, p: 1))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}
