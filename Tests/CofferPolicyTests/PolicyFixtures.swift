import CofferCrypto
@testable import CofferPolicy
import CofferStore
import Foundation
import CofferTestSupport

/// The shipped default policy, read from the repository.
func defaultPolicyPath() -> String { ScratchVault.defaultPolicyPath }

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
    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    var layout: VaultLayout { scratch.layout }
    let vault: Vault

    init() throws {
        scratch = try ScratchVault("policy", passphrase: "policy test passphrase")
        vault = try scratch.create()
    }
}
