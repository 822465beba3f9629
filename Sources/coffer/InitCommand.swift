import ArgumentParser
import CofferCrypto
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import CofferFormats

/// `coffer init`: creates a vault with an owner keyslot.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault with a random master key, wrapped by the owner's passphrase.",
        discussion: """
            The passphrase (at least \(Vault.minimumPassphraseLength) characters) is stretched with scrypt \
            (N=2^\(Scrypt.Parameters.passphraseDefault.logN), r=\(Scrypt.Parameters.passphraseDefault.r), \
            p=\(Scrypt.Parameters.passphraseDefault.p)). Losing it loses the vault: there is no recovery.
            """
    )

    @OptionGroup var options: VaultOptions

    func validate() throws {
        if options.actor != "owner" {
            throw ValidationError("a new vault's first actor is always 'owner'; add others later with `coffer actor add`")
        }
    }

    func run() throws {
        let layout = options.layout
        let vault = try layout.createAsking(passphraseFile: options.passphraseFile)
        let key = try vault.keys().checkpointSigning.publicKey.rawRepresentation
        Terminal.line("Created vault \(vault.vaultID.hexString) at \(layout.directory.path)")
        Terminal.line("Checkpoint public key: \(key.hexString)")
        Terminal.line("Keep the owner passphrase safe: without it the vault cannot be opened.")
        // The vault keeps its policy: commands then work from any directory.
        let path = PolicyLoader.resolvePath(explicit: options.policyOption.policy, environment: CommandContext.current.environment)
        if FileManager.default.fileExists(atPath: path) {
            let (policy, segments) = try VaultPolicy.apply(policyPath: path, segmentsPath: nil, vault: vault)
            Terminal.line("Recorded policy '\(policy.name)' version \(policy.version) (sha256 \(policy.sha256.prefix(16))…) "
                + "and \(segments) segment(s) in the vault; change them with `coffer policy apply FILE`.")
        } else {
            Terminal.note("coffer: warning: no policy at \(path): none recorded in the vault. Record one with `coffer policy apply FILE`.")
        }
    }
}
