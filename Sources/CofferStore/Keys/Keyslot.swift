public import CofferCrypto
public import Foundation

/// One actor's way into the vault: a key-encryption key derived from the
/// actor's passphrase with scrypt wraps exactly the keys the actor's role needs.
public struct Keyslot: Codable, Sendable, Equatable {
    /// The actor's name (e.g. `owner`, `alice`).
    public var actor: String
    /// The actor's role.
    public var role: Role
    /// scrypt cost parameters used for this slot.
    public var kdf: Scrypt.Parameters
    /// Random 32-byte scrypt salt (base64).
    public var salt: String
    /// The wrapped key bundle (base64 of nonce ‖ ciphertext ‖ tag).
    public var wrappedKeys: String
    /// When the slot was created (ISO 8601).
    public var createdAt: String

    /// Associated data binding a slot to its vault, actor and role: editing
    /// the role in the JSON makes the slot fail to open.
    static func context(vaultID: String, actor: String, role: Role) -> [UInt8] {
        Array("coffer/v1/keyslot|\(vaultID)|\(actor)|\(role.rawValue)".utf8)
    }

    /// Creates a slot wrapping `bundle` under a key derived from `passphrase`.
    static func seal(bundle: KeyBundle, actor: String, role: Role, vaultID: String, passphrase: SecureBytes,
                     kdf: Scrypt.Parameters, now: Date = Date()) throws -> Keyslot {
        let salt = try SecureRandom.bytes(32)
        let kek = try Scrypt.deriveKey(passphrase: passphrase, salt: salt, parameters: kdf)
        let wrapped = try KeyWrap.wrap(bundle.serialised(), with: kek,
                                       context: context(vaultID: vaultID, actor: actor, role: role))
        return Keyslot(actor: actor, role: role, kdf: kdf, salt: Data(salt).base64EncodedString(),
                       wrappedKeys: Data(wrapped).base64EncodedString(),
                       createdAt: ISO8601DateFormatter().string(from: now))
    }

    /// Opens the slot with `passphrase`.
    /// - Throws: `VaultError.wrongPassphrase` when the passphrase (or the slot) is wrong.
    func open(passphrase: SecureBytes, vaultID: String, file: String) throws -> KeyBundle {
        guard let salt = Data(base64Encoded: salt), let wrapped = Data(base64Encoded: wrappedKeys) else {
            throw VaultError.corruptFile(path: file, reason: "keyslot '\(actor)' is not valid base64")
        }
        // Parameters are read from a file anyone may edit: bounded, so a slot cannot ask for
        // terabytes of memory or hours of work (the defaults are logN 17, r 8, p 1).
        guard Self.acceptedLogN.contains(kdf.logN), (1...32).contains(kdf.r), (1...16).contains(kdf.p),
              kdf.memoryBytes <= 4 << 30 else {
            throw VaultError.corruptFile(path: file, reason: "keyslot '\(actor)' asks for scrypt parameters out of range "
                + "(logN \(kdf.logN), r \(kdf.r), p \(kdf.p)); the file was edited")
        }
        let kek = try Scrypt.deriveKey(passphrase: passphrase, salt: Array(salt), parameters: kdf)
        do {
            let plain = try KeyWrap.unwrap(Array(wrapped), with: kek,
                                           context: Self.context(vaultID: vaultID, actor: actor, role: role))
            return try KeyBundle(serialised: plain)
        } catch CryptoError.authenticationFailed {
            // The right passphrase for a slot whose role was edited opens under the sealed role: say so.
            for sealed in Role.allCases where sealed != role {
                if (try? KeyWrap.unwrap(Array(wrapped), with: kek, context: Self.context(vaultID: vaultID, actor: actor, role: sealed))) != nil {
                    throw VaultError.corruptFile(path: file, reason: "keyslot '\(actor)' was edited: it says role \(role.rawValue), "
                        + "but it was sealed for role \(sealed.rawValue); restore keyslots.json from a backup")
                }
            }
            throw VaultError.wrongPassphrase(actor: actor)
        }
    }

    /// scrypt cost exponents a slot may ask for (tests use 10; new slots use 17).
    static let acceptedLogN = 10...22
}

/// The contents of `keyslots.json`.
public struct KeyslotFile: Codable, Sendable {
    /// The file format version this code writes.
    public static let currentFormat = 1

    /// Format version.
    public var format: Int
    /// The vault's random id (hex), also stored in the database.
    public var vaultID: String
    /// One slot per actor.
    public var slots: [Keyslot]

    /// Reads and validates the file.
    public static func load(from url: URL) throws -> KeyslotFile {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VaultError.io(path: url.path, detail: "cannot read keyslots: \(error.localizedDescription)")
        }
        let file: KeyslotFile
        do {
            file = try JSONDecoder().decode(KeyslotFile.self, from: data)
        } catch {
            throw VaultError.corruptFile(path: url.path, reason: "not a valid keyslots file (\(error))")
        }
        guard file.format == currentFormat else { throw VaultError.unsupportedFormat(path: url.path, version: file.format) }
        return file
    }

    /// Writes atomically: a temporary file in the same directory, fsync'd, then renamed.
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        try AtomicFile.write(data, to: url)
    }

    /// The slot for `actor`.
    public func slot(for actor: String) throws -> Keyslot {
        guard let slot = slots.first(where: { $0.actor == actor }) else { throw VaultError.unknownActor(actor) }
        return slot
    }
}
