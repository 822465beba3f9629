import ArgumentParser
import Foundation
import CofferCrypto
import CofferPolicy
import CofferStore

/// Options every vault command shares.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault directory (default: $COFFER_VAULT, else ./vault).", valueName: "DIR"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Act as this actor; its keyslot decides what it can read.", valueName: "NAME"))
    var actor: String = "owner"

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from the first line of FILE "
                                            + "(else $COFFER_PASSPHRASE, else a prompt).", valueName: "FILE"))
    var passphraseFile: String?

    @OptionGroup var policyOption: PolicyOption

    var layout: VaultLayout { VaultLayout.resolve(explicit: vault) }

    /// Loads and checks the policy (--policy, $COFFER_POLICY, or policies/default.yaml).
    func policy() throws -> Policy { try policyOption.load() }

    /// Parses a subject argument (`email:…`, `user:…`); types the policy declares
    /// (e.g. `crm:…`) are accepted when the policy loads.
    func identifier(_ text: String) throws -> Identifier {
        if let identifier = Identifier(argument: text) { return identifier }
        let declared = (try? policy())?.declaredIdentifierTypes ?? []
        if let identifier = Identifier(argument: text, declaredTypes: declared) { return identifier }
        let types = (IdentifierType.builtIn + declared).map(\.rawValue).joined(separator: ", ")
        throw CommandFailure(message: "'\(text)' is not an identifier: use TYPE:VALUE with TYPE one of \(types) "
            + "(e.g. email:alice@example.com)")
    }

    /// Reads the actor's passphrase and unlocks the vault.
    func unlock() throws -> Vault {
        try layout.unlockAsking(actor: actor, passphraseFile: passphraseFile)
    }
}

/// The one place the CLI asks for passphrases to open or create a vault.
extension VaultLayout {
    /// Reads `actor`'s passphrase (file, `COFFER_PASSPHRASE`, or prompt) and unlocks.
    func unlockAsking(actor: String = "owner", passphraseFile: String?) throws -> Vault {
        guard isInitialized else {
            if FileManager.default.fileExists(atPath: database.path) { throw VaultError.orphanDatabase(path: database.path) }
            throw VaultError.notInitialized(path: directory.path)
        }
        let passphrase = try PassphraseSource.read(file: passphraseFile, prompt: "Passphrase for '\(actor)': ")
        return try Vault.unlock(layout: self, actor: actor, passphrase: passphrase)
    }

    /// Reads a new owner passphrase (a prompt asks twice) and creates the vault.
    func createAsking(passphraseFile: String?) throws -> Vault {
        if isInitialized { throw VaultError.alreadyInitialized(path: directory.path) }
        let passphrase = try PassphraseSource.read(file: passphraseFile, prompt: "New owner passphrase: ", confirm: true)
        return try Vault.create(layout: self, ownerPassphrase: passphrase)
    }
}

/// `--policy FILE`, for commands that work under a policy.
struct PolicyOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file (default: $COFFER_POLICY, else policies/default.yaml).",
                                            valueName: "FILE"))
    var policy: String?

    func load() throws -> Policy { try PolicyLoader.load(path: PolicyLoader.resolvePath(explicit: policy)) }
}
