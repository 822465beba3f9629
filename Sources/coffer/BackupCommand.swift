import ArgumentParser
import CofferStore
import Foundation

/// `coffer backup DEST`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, verified copy of every vault file into a new directory.",
        discussion: """
            Copies the database and the audit ledger as one snapshot each (SQLite's VACUUM INTO: \
            what is still only in the -wal file is included), keyslots.json and the projection files, \
            then verifies the copy's log and audit chains. Works while the vault is in use. Needs an \
            actor holding the master key (owner or compliance); the backup is audited.

            Do not copy vault.sqlite by hand: committed batches may still live only in vault.sqlite-wal. \
            A backup taken before an erasure still holds the erased person's keys (see SECURITY.md).
            """
    )

    @OptionGroup var options: VaultOptions

    @Argument(help: ArgumentHelp("A new or empty directory for the backup.", valueName: "DEST"))
    var destination: String

    func run() throws {
        let vault = try options.unlock()
        let report = try vault.backup(to: URL(fileURLWithPath: destination))
        Terminal.line("Backed up \(report.files.count) files to \(report.directory): \(report.events) events (chain verified), "
            + "\(report.auditEntries) audit entries (chain verified).")
        Terminal.line("Restore by pointing --vault (or COFFER_VAULT) at it; keep it as safe as the vault.")
    }
}
