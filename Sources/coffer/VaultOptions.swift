import ArgumentParser
import Foundation
import CofferCrypto
import CofferPolicy
import CofferProjection
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

    var layout: VaultLayout { VaultLayout.resolve(explicit: vault, environment: CommandContext.current.environment) }

    /// The policy: the vault's own (recorded by `init` or `policy apply`); for a
    /// vault without one, --policy, $COFFER_POLICY, or policies/default.yaml.
    /// Naming another policy than the vault's is refused: changing it is `policy apply`.
    func policy() throws -> Policy {
        guard let recorded = try VaultPolicy.load(layout) else { return try policyOption.load() }
        if let named = policyOption.explicitPath, let other = try? PolicyLoader.load(path: named), other.sha256 != recorded.sha256 {
            throw CommandFailure(message: "this vault runs under its own policy ('\(recorded.name)', sha256 \(recorded.sha256.prefix(16))…); "
                + "\(named) is another ('\(other.name)', sha256 \(other.sha256.prefix(16))…). Change the vault's policy with "
                + "`coffer policy apply \(named)`, or leave --policy and COFFER_POLICY out")
        }
        return recorded
    }

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

    /// Reads the actor's passphrase and unlocks the vault; a recorded policy
    /// edited by hand is refused here, before it decides anything.
    func unlock() throws -> Vault {
        let vault = try layout.unlockAsking(actor: actor, passphraseFile: passphraseFile)
        if vault.role != .auditor { try VaultPolicy.verify(vault) }
        return vault
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
        let vault = try Vault.unlock(layout: self, actor: actor, passphrase: passphrase)
        vault.warn = Terminal.warning
        return vault
    }

    /// Reads a new owner passphrase (a prompt asks twice) and creates the vault.
    func createAsking(passphraseFile: String?) throws -> Vault {
        if isInitialized { throw VaultError.alreadyInitialized(path: directory.path) }
        let passphrase = try PassphraseSource.read(file: passphraseFile, prompt: "New owner passphrase: ", confirm: true)
        let vault = try Vault.create(layout: self, ownerPassphrase: passphrase, kdf: CommandContext.current.kdf)
        vault.warn = Terminal.warning
        return vault
    }
}

/// `--policy FILE`, for commands that work under a policy.
struct PolicyOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file (default: $COFFER_POLICY, else policies/default.yaml).",
                                            valueName: "FILE"))
    var policy: String?

    func load() throws -> Policy {
        try PolicyLoader.load(path: PolicyLoader.resolvePath(explicit: policy, environment: CommandContext.current.environment))
    }

    /// The policy named on purpose (--policy or $COFFER_POLICY), if any.
    var explicitPath: String? {
        policy ?? CommandContext.current.environment["COFFER_POLICY"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
