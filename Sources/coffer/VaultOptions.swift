import ArgumentParser
import CofferCrypto
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

    var layout: VaultLayout { VaultLayout.resolve(explicit: vault) }

    /// Reads the actor's passphrase and unlocks the vault.
    func unlock() throws -> Vault {
        let layout = layout
        guard layout.isInitialized else { throw VaultError.notInitialized(path: layout.directory.path) }
        let passphrase = try PassphraseSource.read(file: passphraseFile, prompt: "Passphrase for '\(actor)': ")
        return try Vault.unlock(layout: layout, actor: actor, passphrase: passphrase)
    }
}
