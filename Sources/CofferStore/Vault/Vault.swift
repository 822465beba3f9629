public import CofferCrypto
import Foundation
package import GRDB
import CofferFormats

/// An unlocked vault: the database, the actor who opened it, and the keys the
/// actor's keyslot holds.
///
/// Create one with `Vault.create` (a new vault) or `Vault.unlock`.
public final class Vault {
    /// Minimum passphrase length for new keyslots, in characters.
    public static let minimumPassphraseLength = 8

    /// A new passphrase must have at least `minimumPassphraseLength` characters
    /// (not bytes: "éééé" is four) and not be only white space.
    /// - Throws: `VaultError.weakPassphrase`.
    public static func checkPassphrase(_ passphrase: SecureBytes) throws {
        // Counted on the bytes, without a String copy of the secret: a UTF-8 character
        // starts at every byte that is not a continuation byte (10xxxxxx).
        let ok = passphrase.withUnsafeBytes { raw -> Bool in
            let characters = raw.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
            let blank = raw.allSatisfy { [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c].contains($0) }
            return characters >= minimumPassphraseLength && !blank
        }
        guard ok else { throw VaultError.weakPassphrase(minimumLength: minimumPassphraseLength) }
    }

    /// Where the vault lives.
    public let layout: VaultLayout
    /// The vault's random 16-byte id.
    public let vaultID: [UInt8]
    /// The actor who unlocked it, and their role.
    public let actor: String
    public let role: Role
    /// The database connection.
    package let database: DatabaseQueue
    let bundle: KeyBundle
    private var cachedKeys: VaultKeys?
    private var cachedLog: EventLog?
    var cachedAudit: AuditLedger?
    /// SHA-256 of the policy the current command runs under (see `usePolicy`).
    var policyInUse: String?
    /// Where the vault says what went wrong beside an operation that still completed
    /// (a denial it could not record, say). The command line prints these on stderr;
    /// by default they are dropped.
    public var warn: (String) -> Void = { _ in }

    private init(layout: VaultLayout, vaultID: [UInt8], actor: String, role: Role, database: DatabaseQueue, bundle: KeyBundle) {
        self.layout = layout
        self.vaultID = vaultID
        self.actor = actor
        self.role = role
        self.database = database
        self.bundle = bundle
    }

    /// The names of the keys this actor's keyslot holds (never the keys).
    public var heldKeys: [String] { bundle.names }

    /// The key of `role`'s projections (default: this actor's role): analysts and
    /// marketing hold their own role's key; owner and compliance derive any.
    public func projectionKey(for role: Role? = nil) throws -> SymmetricKey {
        let wanted = role ?? self.role
        if wanted == self.role, let key = bundle[KeyBundle.Name.projection] { return key }
        if bundle[KeyBundle.Name.master] != nil { return try keys().projectionKey(for: wanted) }
        throw VaultError.permissionDenied(actor: actor, role: self.role.rawValue, needs: "the projection key of role \(wanted.rawValue)")
    }

    /// The data keys, derived from the master key.
    /// - Throws: `VaultError.permissionDenied` if this actor's keyslot has no master key.
    public func keys() throws -> VaultKeys {
        if let cachedKeys { return cachedKeys }
        let keys = try VaultKeys(master: masterKey())
        cachedKeys = keys
        return keys
    }

    /// The event log, for appending and reading (needs the master key).
    public func eventLog() throws -> EventLog {
        if let cachedLog { return cachedLog }
        let log = try EventLog(database: database, vaultID: vaultID, keys: keys())
        cachedLog = log
        return log
    }

    /// A log reader on its own read-only connection, for scanning on another
    /// thread while this vault's connection is busy (needs the master key).
    public func logReader() throws -> EventLog {
        try EventLog(database: VaultDatabase.open(layout.database, readOnly: true), vaultID: vaultID, keys: keys())
    }

    /// The identity graph (needs the master key).
    public func identityGraph() throws -> IdentityGraph {
        try IdentityGraph(vaultID: vaultID, keys: keys(), log: eventLog())
    }

    /// The quarantine of rejected input (needs the master key).
    public func quarantine() throws -> QuarantineStore {
        try QuarantineStore(keys: keys())
    }

    /// The index of already-ingested records (needs the master key).
    public func dedupIndex() throws -> DedupIndex {
        try DedupIndex(keys: keys())
    }

    /// Creates a new vault at `layout` with an `owner` keyslot.
    ///
    /// Nothing is left half-written: the keyslots file, which marks a vault as
    /// initialised, is written last and atomically; on failure the new database
    /// is removed.
    /// - Parameter kdf: scrypt cost for the owner's slot (tests use a cheaper one).
    public static func create(layout: VaultLayout, ownerPassphrase: SecureBytes,
                              kdf: Scrypt.Parameters = .passphraseDefault) throws -> Vault {
        let fm = FileManager.default
        if layout.isInitialized { throw VaultError.alreadyInitialized(path: layout.directory.path) }
        try checkPassphrase(ownerPassphrase)
        do {
            try fm.createDirectory(at: layout.directory, withIntermediateDirectories: true,
                                   attributes: [.posixPermissions: 0o700])
            // An existing directory (e.g. made by mkdir, 0755) is made owner-only too.
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: layout.directory.path)
        } catch {
            throw VaultError.io(path: layout.directory.path, detail: error.localizedDescription)
        }
        try removeLeftoverDatabase(layout)

        let master = try SymmetricKey.random()
        let keys = try VaultKeys(master: master)
        let vaultID = try SecureRandom.bytes(16)
        do {
            let database = try VaultDatabase.open(layout.database, sealKey: keys.stateSeal)
            // Owner-only, like the directory; SQLite gives -wal and -shm the database's mode.
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: layout.database.path)
            try database.write { db in
                try VaultMeta.set(db, VaultMeta.vaultID, vaultID)
                try VaultMeta.set(db, VaultMeta.checkpointPublicKey, keys.checkpointSigning.publicKey.rawRepresentation)
                try VaultMeta.set(db, VaultMeta.createdAt, Array(ISO8601DateFormatter().string(from: Date()).utf8))
            }
            let bundle = KeyBundle(keys: [KeyBundle.Name.master: master])
            let slot = try Keyslot.seal(bundle: bundle, actor: "owner", role: .owner, vaultID: vaultID.hexString,
                                        passphrase: ownerPassphrase, kdf: kdf)
            try KeyslotFile(format: KeyslotFile.currentFormat, vaultID: vaultID.hexString, slots: [slot]).save(to: layout.keyslots)
            let vault = Vault(layout: layout, vaultID: vaultID, actor: "owner", role: .owner, database: database, bundle: bundle)
            vault.cachedKeys = keys
            try vault.audit(.vaultInit, reason: "vault created")
            return vault
        } catch {
            for url in layout.databaseFiles + layout.auditFiles { try? fm.removeItem(at: url) }
            throw error
        }
    }

    /// A database without keyslots is what an interrupted `init` leaves. It is
    /// replaced only when it holds no event; otherwise it is refused.
    private static func removeLeftoverDatabase(_ layout: VaultLayout) throws {
        guard FileManager.default.fileExists(atPath: layout.database.path) else { return }
        let events: Int
        do {
            let queue = try DatabaseQueue(path: layout.database.path)
            events = try queue.read { db in
                try db.tableExists("events") ? (Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0) : 0
            }
            try queue.close()
        } catch {
            throw VaultError.corruptFile(path: layout.database.path, reason: "\(error)")
        }
        guard events == 0 else { throw VaultError.orphanDatabase(path: layout.database.path) }
        for url in layout.databaseFiles + layout.auditFiles { try? FileManager.default.removeItem(at: url) }
    }

    /// Unlocks the vault at `layout` as `actor` with `passphrase`.
    ///
    /// - Throws: `VaultError.notInitialized`, `.unknownActor`, `.wrongPassphrase`,
    ///   or `.corruptFile`; nothing on disk changes on failure.
    public static func unlock(layout: VaultLayout, actor: String = "owner", passphrase: SecureBytes) throws -> Vault {
        guard layout.isInitialized else {
            // A database without its keyslots is not "no vault": the keyslots were lost or moved.
            if FileManager.default.fileExists(atPath: layout.database.path) { throw VaultError.orphanDatabase(path: layout.database.path) }
            throw VaultError.notInitialized(path: layout.directory.path)
        }
        let file = try KeyslotFile.load(from: layout.keyslots)
        let slot = try file.slot(for: actor)
        let bundle = try slot.open(passphrase: passphrase, vaultID: file.vaultID, file: layout.keyslots.path)
        guard FileManager.default.fileExists(atPath: layout.database.path) else {
            throw VaultError.corruptFile(path: layout.database.path, reason: "the database is missing")
        }
        // Derived once: the seal key opens the database, and the vault keeps the keys.
        let keys = try bundle[KeyBundle.Name.master].map { try VaultKeys(master: $0) }
        let database = try VaultDatabase.open(layout.database, sealKey: keys?.stateSeal)
        let storedID = try database.read { try VaultMeta.get($0, VaultMeta.vaultID) }
        guard let storedID, storedID.hexString == file.vaultID else {
            throw VaultError.corruptFile(path: layout.database.path, reason: "it belongs to another vault than keyslots.json")
        }
        let vault = Vault(layout: layout, vaultID: storedID, actor: actor, role: slot.role, database: database, bundle: bundle)
        vault.cachedKeys = keys
        // What a killed writer left behind (whole sealed files under temporary names) goes now.
        for directory in [layout.directory, layout.projections] { AtomicFile.removeLeftovers(in: directory) }
        if keys != nil {
            // The checkpoint key stored in clear must be the one the master key derives.
            let stored = try database.read { try VaultMeta.get($0, VaultMeta.checkpointPublicKey) }
            guard stored == (try vault.keys().checkpointSigning.publicKey.rawRepresentation) else {
                throw VaultError.corruptFile(path: layout.database.path,
                                             reason: "its checkpoint public key does not match the vault's keys (tampered?)")
            }
        }
        return vault
    }

    /// The checkpoint verification key stored in the vault (no secret needed).
    public static func checkpointPublicKey(layout: VaultLayout) throws -> Ed25519.PublicKey {
        let queue = try VaultDatabase.open(layout.database, readOnly: true)
        guard let raw = try queue.read({ try VaultMeta.get($0, VaultMeta.checkpointPublicKey) }) else {
            throw VaultError.corruptFile(path: layout.database.path, reason: "no checkpoint public key")
        }
        return try Ed25519.PublicKey(rawRepresentation: raw)
    }
}
