public import CofferCrypto
import Foundation
public import FoundationEssentials

/// Everything that can go wrong opening or using a vault, with a message that
/// says what happened and what to do. Messages never carry personal data.
public enum VaultError: CofferError, Equatable {
    /// `init` found an existing vault.
    case alreadyInitialized(path: String)
    /// No vault at the path.
    case notInitialized(path: String)
    /// A database exists without its keyslots, and it holds events.
    case orphanDatabase(path: String)
    /// The passphrase did not open the actor's keyslot.
    case wrongPassphrase(actor: String)
    /// No keyslot for that actor.
    case unknownActor(String)
    /// A passphrase that is too weak to protect the vault.
    case weakPassphrase(minimumLength: Int)
    /// A vault file could not be read or parsed.
    case corruptFile(path: String, reason: String)
    /// The vault was written by a newer or unknown format.
    case unsupportedFormat(path: String, version: Int)
    /// The actor may not do this: its keyslot lacks a key, or its role a permission (`notPermitted`).
    case permissionDenied(actor: String, role: String, needs: String)
    /// `actor add` with a name already taken.
    case actorExists(String)
    /// An actor name that is not usable.
    case invalidActorName(String)
    /// Removing this actor would leave no owner.
    case lastOwner(String)
    /// Database failure: what was being done, SQLite's message, and its result code when known.
    case storage(operation: String, detail: String, sqliteCode: Int32? = nil)
    /// A file-system failure, with the errno when known.
    case io(path: String, detail: String, errno: Int32? = nil)
    /// The disk (or the file system's quota) is full.
    case diskFull(path: String)
    /// A sealed table (consent state, restrictions, …) was changed outside Coffer.
    case tamperedTable(path: String, table: String)
    /// An event was to be sealed in a key epoch that retention already destroyed.
    case epochRetired(kind: String, month: String)
    /// A source that cannot be added or revoked as asked.
    case invalidSource(String)

    public var description: String { Self.line(parts.problem, remedy: parts.remedy) }

    public var remedy: String? { parts.remedy }

    /// What went wrong, and what to do about it.
    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .alreadyInitialized(path):
            return ("a vault already exists at \(path)", "use it, or choose another directory with --vault")
        case let .notInitialized(path):
            return ("no vault at \(path)", "create one with `coffer init`, or point --vault / COFFER_VAULT at an existing vault")
        case let .orphanDatabase(path):
            return ("\(path) holds a database with events but no keyslots.json; the keyslots were lost or moved",
                    "restore keyslots.json from a backup; without it the events cannot be decrypted")
        case let .wrongPassphrase(actor):
            return ("wrong passphrase for actor '\(actor)'; nothing was changed", nil)
        case let .unknownActor(actor):
            return ("no actor named '\(actor)' in this vault", "`coffer actor list` shows the actors")
        case let .weakPassphrase(minimum):
            return ("the passphrase must be at least \(minimum) characters long, and not only spaces", nil)
        case let .corruptFile(path, reason):
            return ("\(path) is damaged or not a Coffer file: \(reason)", nil)
        case let .unsupportedFormat(path, version):
            return ("\(path) has format version \(version), which this coffer does not understand", "upgrade coffer")
        case let .permissionDenied(actor, role, needs):
            return ("permission denied: actor '\(actor)' (role \(role)) lacks \(needs)", nil)
        case let .actorExists(name):
            return ("an actor named '\(name)' already exists", "choose another name, or `coffer actor remove \(name)` first")
        case let .invalidActorName(name):
            return ("'\(name)' is not a usable actor name: use 1–64 characters from a–z, 0–9, '.', '_' and '-', starting with a letter", nil)
        case let .lastOwner(name):
            return ("'\(name)' is the last owner", "add another owner before removing it, or the vault could no longer be managed")
        case let .storage(operation, detail, _):
            return ("database error while \(operation): \(detail)", nil)
        case let .io(path, detail, _):
            return ("cannot access \(path): \(detail)", nil)
        case let .diskFull(path):
            return ("no space left on the disk that holds \(path)",
                    "free some space and run the command again (what was committed before is intact)")
        case let .tamperedTable(path, table):
            return ("the \(table) table in \(path) was changed outside Coffer (its seal does not match its rows); nothing was built from it",
                    "restore the vault from a backup (`coffer backup`) and run `coffer verify`")
        case let .epochRetired(kind, month):
            return ("\(kind) events of \(month) are past retention and their keys were destroyed by `coffer retention apply`; "
                        + "such an event cannot be stored again (nothing was appended)", nil)
        case let .invalidSource(text):
            return (text, nil)
        }
    }
}

extension VaultError {
    /// An actor whose role lacks `permission`: denied, naming the roles that have it.
    public static func notPermitted(actor: String, role: Role, permission: Permission) -> VaultError {
        let names = permission.roles.map(\.rawValue)
        let roles = names.count == 1 ? "the \(names[0]) role has"
            : "the " + names.dropLast().joined(separator: ", ") + " and \(names.last!) roles have"
        return .permissionDenied(actor: actor, role: role.rawValue, needs: "the '\(permission.rawValue)' permission, which only \(roles)")
    }
}

extension VaultError: LocalizedError {
    public var errorDescription: String? { description }
}
