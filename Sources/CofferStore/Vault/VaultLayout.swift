public import Foundation

/// Where a vault's files live. See `vault/README.md` for what each holds.
public struct VaultLayout: Sendable, Equatable {
    /// The vault directory.
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory.standardizedFileURL
    }

    /// Resolves the vault directory: an explicit path, else `COFFER_VAULT`, else `./vault`.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> VaultLayout {
        let path = explicit ?? environment["COFFER_VAULT"] ?? "vault"
        return VaultLayout(directory: URL(fileURLWithPath: path))
    }

    /// The SQLite database: event log, keyring, checkpoints.
    /// The file names inside a vault directory (errors name them when only the name is at hand).
    public static let databaseName = "vault.sqlite", keyslotsName = "keyslots.json", auditName = "audit.sqlite"

    public var database: URL { directory.appendingPathComponent(Self.databaseName) }
    /// Actors and their passphrase-wrapped keys.
    public var keyslots: URL { directory.appendingPathComponent(Self.keyslotsName) }
    /// The audit ledger (a separate file, so an auditor can be handed it alone).
    public var auditDatabase: URL { directory.appendingPathComponent(Self.auditName) }
    /// The ledger plus its WAL and shared-memory companions.
    public var auditFiles: [URL] {
        [auditDatabase, URL(fileURLWithPath: auditDatabase.path + "-wal"), URL(fileURLWithPath: auditDatabase.path + "-shm")]
    }
    /// Encrypted projection snapshots.
    public var projections: URL { directory.appendingPathComponent("projections") }

    /// The database plus its WAL and shared-memory companions.
    public var databaseFiles: [URL] {
        [database, URL(fileURLWithPath: database.path + "-wal"), URL(fileURLWithPath: database.path + "-shm")]
    }

    /// `true` once `init` has completed (the keyslots file is written last).
    public var isInitialized: Bool { FileManager.default.fileExists(atPath: keyslots.path) }
}
