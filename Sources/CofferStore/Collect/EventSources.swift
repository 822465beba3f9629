public import CofferCrypto
import CofferFormats
import Foundation
import GRDB

/// A system that sends events to `coffer serve` live: a website, an app, a
/// server, a till or an email tool. It authenticates with a write key that
/// only a keyed hash of is stored.
public struct EventSource: Sendable, Equatable {
    /// What kind of system it is; the single view's channels follow it.
    public enum Kind: String, CaseIterable, Sendable {
        case web, app, server, pos, email
    }

    /// The source's name, e.g. `website`.
    public var name: String
    public var kind: Kind
    /// Browser origins allowed to send with this source's key (CORS), e.g. `https://shop.example`.
    public var origins: [String]
    /// The first characters of the write key, to tell keys apart in `source list`.
    public var keyHint: String
    public var createdAt: Int64
    /// When the key was revoked; a revoked key is refused with 401.
    public var revokedAt: Int64?

    /// Whether the key is still accepted.
    public var isActive: Bool { revokedAt == nil }
}

/// The write keys of a vault's sources, as the collector checks them: read
/// from vault.sqlite without any key (the collector holds none).
public struct SourceDirectory: Sendable {
    /// Active and revoked sources, by the keyed hash of their write key.
    private let byHash: [[UInt8]: EventSource]
    private let salt: [UInt8]

    /// What a write key looks like: a prefix and 40 hex digits (160 random bits).
    public static let keyPrefix = "cw_"

    /// Loads the sources of the vault at `layout`; none when the vault has none yet.
    public static func load(_ layout: VaultLayout) throws -> SourceDirectory {
        let queue = try VaultDatabase.open(layout.database, readOnly: true)
        return try queue.read { db in
            guard try db.tableExists("sources"), let salt = try VaultMeta.get(db, VaultMeta.sourceKeySalt) else {
                return SourceDirectory(byHash: [:], salt: [])
            }
            var byHash: [[UInt8]: EventSource] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM sources") {
                byHash[Array(row["key_hash"] as Data)] = try EventSources.source(row)
            }
            return SourceDirectory(byHash: byHash, salt: salt)
        }
    }

    /// The source whose write key is `key`, active or revoked; nil for an unknown key.
    public func source(forKey key: String) -> EventSource? {
        guard !salt.isEmpty, key.hasPrefix(Self.keyPrefix), key.utf8.count <= 64,
              let hash = try? HMACSHA256.authenticate(Array(key.utf8), key: salt) else { return nil }
        return byHash[hash]
    }

    /// Every source.
    public var sources: [EventSource] { byHash.values.sorted { $0.name < $1.name } }
}

/// Adding, listing and revoking sources (owner only, audited).
enum EventSources {
    static func source(_ row: Row) throws -> EventSource {
        var origins: [String] = []
        if case let .array(items)? = try? JSONReader.document(Array((row["origins"] as String).utf8)) { origins = items.compactMap(\.string) }
        return EventSource(name: row["name"], kind: EventSource.Kind(rawValue: row["kind"]) ?? .server, origins: origins,
                           keyHint: row["key_hint"], createdAt: row["created_at"], revokedAt: row["revoked_at"])
    }
}

extension Vault {
    /// Adds a source and returns its new write key, the only time it is shown.
    ///
    /// - Throws: `VaultError.notPermitted` (owner only); `VaultError.invalidSource`
    ///   for a bad name or origin, or a name taken.
    public func addSource(_ name: String, kind: EventSource.Kind, origins: [String], at now: Int64) throws -> String {
        try require(.manageSources, for: .sourceAdd, target: "source:\(name)")
        guard Self.isValidActorName(name) else {
            throw VaultError.invalidSource("'\(name)' is not a usable source name: use 1–64 characters from a–z, 0–9, '.', '_' and '-', starting with a letter")
        }
        for origin in origins {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                  url.path.isEmpty || url.path == "/", url.query == nil else {
                throw VaultError.invalidSource("'\(origin)' is not an origin: give scheme and host, e.g. https://shop.example")
            }
        }
        let key = SourceDirectory.keyPrefix + (try SecureRandom.bytes(20)).hexString
        let normalised = origins.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        let originsJSON = String(decoding: try CanonicalJSON.data(normalised), as: UTF8.self)
        try database.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM sources WHERE name = ?", arguments: [name]) == nil else {
                throw VaultError.invalidSource("a source named '\(name)' already exists; revoke it, or choose another name")
            }
            let salt: [UInt8]
            if let existing = try VaultMeta.get(db, VaultMeta.sourceKeySalt) {
                salt = existing
            } else {
                salt = try SecureRandom.bytes(32)
                try VaultMeta.set(db, VaultMeta.sourceKeySalt, salt)
            }
            let hash = try HMACSHA256.authenticate(Array(key.utf8), key: salt)
            try db.execute(sql: """
                INSERT INTO sources(name, kind, origins, key_hash, key_hint, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [name, kind.rawValue, originsJSON, Data(hash), String(key.prefix(9)), now])
        }
        try collectorPublicKey()   // sealing needs it from the first request on
        try audit(.sourceAdd, target: "source:\(name)", reason: "kind \(kind.rawValue)")
        return key
    }

    /// Every source, active and revoked.
    public func sources() throws -> [EventSource] {
        try require(.manageSources, for: .sourceList)
        return try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM sources ORDER BY name").map(EventSources.source) }
    }

    /// Revokes a source's write key: the collector refuses it from its next reload (within seconds).
    public func revokeSource(_ name: String, at now: Int64) throws {
        try require(.manageSources, for: .sourceRevoke, target: "source:\(name)")
        let changed = try database.write { db -> Int in
            try db.execute(sql: "UPDATE sources SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", arguments: [now, name])
            return db.changesCount
        }
        guard changed == 1 else { throw VaultError.invalidSource("no active source named '\(name)'; `coffer source list` shows them") }
        try audit(.sourceRevoke, target: "source:\(name)")
    }

    /// The collector's public key: requests are sealed to it. Made on first use;
    /// its private key is kept wrapped under a key derived from the master key.
    @discardableResult
    public func collectorPublicKey() throws -> X25519.PublicKey {
        if let existing = try database.read({ try VaultMeta.get($0, VaultMeta.collectorPublicKey) }) {
            return try X25519.PublicKey(rawRepresentation: existing)
        }
        let wrapping = try keys().collectorKeyWrapping
        let key = try X25519.PrivateKey.generate()
        let wrapped = try KeyWrap.wrap(key.rawRepresentation, with: wrapping, context: Self.collectorKeyContext(vaultID))
        // Checked again in the writing transaction: two first calls at once (two `source add`s) must not
        // replace a key a collector may already seal to.
        let stored = try database.write { db -> [UInt8] in
            if let existing = try VaultMeta.get(db, VaultMeta.collectorPublicKey) { return existing }
            try VaultMeta.set(db, VaultMeta.collectorPublicKey, key.publicKey.rawRepresentation)
            try VaultMeta.set(db, VaultMeta.collectorPrivateKey, wrapped)
            return key.publicKey.rawRepresentation
        }
        return try X25519.PublicKey(rawRepresentation: stored)
    }

    /// The collector's private key, to open the inbox (needs the master key).
    public func collectorPrivateKey() throws -> X25519.PrivateKey? {
        guard let wrapped = try database.read({ try VaultMeta.get($0, VaultMeta.collectorPrivateKey) }) else { return nil }
        do {
            return try X25519.PrivateKey(rawRepresentation: KeyWrap.unwrap(wrapped, with: keys().collectorKeyWrapping,
                                                                           context: Self.collectorKeyContext(vaultID)))
        } catch is CryptoError {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the collector key fails authentication; run `coffer verify`")
        }
    }

    static func collectorKeyContext(_ vaultID: [UInt8]) -> [UInt8] { Array("coffer/v1/collector-key".utf8) + vaultID }

    /// The collector's public key as the collector reads it: from vault.sqlite, without any key.
    public static func collectorPublicKey(layout: VaultLayout) throws -> X25519.PublicKey? {
        let queue = try VaultDatabase.open(layout.database, readOnly: true)
        return try queue.read { try VaultMeta.get($0, VaultMeta.collectorPublicKey) }.map { try X25519.PublicKey(rawRepresentation: $0) }
    }
}
