import ArgumentParser
import CofferStore
import Foundation

/// `coffer actor add|list|remove|passwd`
struct ActorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actor",
        abstract: "Manage who can open the vault, and with which role.",
        discussion: """
            Each actor has a keyslot: their passphrase unlocks exactly the keys their role needs.
              owner, compliance  the master key (every data key derives from it)
              analyst, marketing the projection key, and what writing audit entries takes
              auditor            the audit read key and the audit public key
            """,
        subcommands: [Add.self, List.self, Remove.self, Passwd.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an actor (owner only).",
            discussion: "The new actor's passphrase comes from --new-passphrase-file, $COFFER_NEW_PASSPHRASE, or a prompt (asked twice)."
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: "The new actor's name (a–z, 0–9, '.', '_', '-').") var name: String
        @Option(help: ArgumentHelp("owner, compliance, analyst, marketing or auditor.", valueName: "ROLE")) var role: Role
        @Option(help: ArgumentHelp("Read the new actor's passphrase from FILE.", valueName: "FILE")) var newPassphraseFile: String?

        func validate() throws {
            guard Vault.isValidActorName(name) else { throw ValidationError(VaultError.invalidActorName(name).description) }
        }

        func run() throws {
            let vault = try options.unlock()
            try vault.require(.manageActors, for: .actorAdd, target: "actor:\(name)")
            let passphrase = try PassphraseSource.read(file: newPassphraseFile, prompt: "Passphrase for new actor '\(name)': ",
                                                       confirm: true, variable: "COFFER_NEW_PASSPHRASE")
            try vault.addActor(name, role: role, passphrase: passphrase, kdf: CommandContext.current.kdf)
            Terminal.line("Added actor '\(name)' with role \(role.rawValue); their keyslot holds: "
                + KeyBundle.names(for: role).joined(separator: ", "))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the actors and their roles.")
        @OptionGroup var options: VaultOptions

        func run() throws {
            let actors = try options.unlock().actors()
            let width = max(5, actors.map(\.name.count).max() ?? 0)
            Terminal.line("actor".padding(toLength: width, withPad: " ", startingAt: 0) + "  role        added                 keys")
            for actor in actors {
                Terminal.line(actor.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + actor.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                    + actor.createdAt.padding(toLength: 20, withPad: " ", startingAt: 0) + "  " + actor.keys.joined(separator: ", "))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an actor's keyslot (owner only).")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The actor to remove.") var name: String

        func run() throws {
            try options.unlock().removeActor(name)
            Terminal.line("Removed actor '\(name)'; their passphrase no longer opens this vault.")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the passphrase of the acting actor (--actor).",
            discussion: "The current passphrase unlocks as usual; the new one comes from --new-passphrase-file, "
                + "$COFFER_NEW_PASSPHRASE, or a prompt (asked twice)."
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Read the new passphrase from FILE.", valueName: "FILE")) var newPassphraseFile: String?

        func run() throws {
            let vault = try options.unlock()
            let passphrase = try PassphraseSource.read(file: newPassphraseFile, prompt: "New passphrase for '\(vault.actor)': ",
                                                       confirm: true, variable: "COFFER_NEW_PASSPHRASE")
            try vault.changePassphrase(to: passphrase, kdf: CommandContext.current.kdf)
            Terminal.line("Changed the passphrase of '\(vault.actor)'; the old one no longer works.")
        }
    }
}
