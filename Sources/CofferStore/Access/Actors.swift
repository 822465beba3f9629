public import CofferCrypto
import Foundation

/// One actor as `actor list` shows it: no key material.
public struct ActorInfo: Sendable, Equatable {
    public var name: String
    public var role: Role
    public var createdAt: String
    /// The names of the keys the actor's slot wraps.
    public var keys: [String]
}

extension Vault {
    /// Every actor of the vault, in the order they were added.
    ///
    /// - Throws: `VaultError.notPermitted` without `list-actors`.
    public func actors() throws -> [ActorInfo] {
        try require(.listActors, for: .actorList)
        return try KeyslotFile.load(from: layout.keyslots).slots.map {
            ActorInfo(name: $0.actor, role: $0.role, createdAt: $0.createdAt,
                      keys: KeyBundle.names(for: $0.role))
        }
    }

    /// Adds an actor whose keyslot, opened by `passphrase`, wraps only the keys `role` needs.
    ///
    /// - Throws: `VaultError.notPermitted` (owner only), `.invalidActorName`,
    ///   `.actorExists`, `.weakPassphrase`; the keyslots file is unchanged on failure.
    public func addActor(_ name: String, role: Role, passphrase: SecureBytes,
                         kdf: Scrypt.Parameters = .passphraseDefault) throws {
        try require(.manageActors, for: .actorAdd, target: "actor:\(name)")
        guard Self.isValidActorName(name) else { throw VaultError.invalidActorName(name) }
        try Self.checkPassphrase(passphrase)
        var file = try KeyslotFile.load(from: layout.keyslots)
        guard !file.slots.contains(where: { $0.actor == name }) else { throw VaultError.actorExists(name) }
        let master = try masterKey()
        let slot = try Keyslot.seal(bundle: KeyBundle.forRole(role, master: master), actor: name, role: role,
                                    vaultID: file.vaultID, passphrase: passphrase, kdf: kdf)
        file.slots.append(slot)
        try file.save(to: layout.keyslots)
        try audit(.actorAdd, target: "actor:\(name)", reason: "role \(role.rawValue)")
    }

    /// Removes an actor's keyslot: their passphrase no longer opens the vault.
    ///
    /// Keys already unwrapped by that actor (e.g. a copy of the old keyslots
    /// file) are not revoked by this; SECURITY.md says what removal covers.
    /// - Throws: `VaultError.notPermitted`, `.unknownActor`, `.lastOwner`.
    public func removeActor(_ name: String) throws {
        try require(.manageActors, for: .actorRemove, target: "actor:\(name)")
        var file = try KeyslotFile.load(from: layout.keyslots)
        guard let slot = file.slots.first(where: { $0.actor == name }) else { throw VaultError.unknownActor(name) }
        if slot.role == .owner, file.slots.filter({ $0.role == .owner }).count == 1 {
            throw VaultError.lastOwner(name)
        }
        file.slots.removeAll { $0.actor == name }
        try file.save(to: layout.keyslots)
        try audit(.actorRemove, target: "actor:\(name)", reason: "role \(slot.role.rawValue)")
    }

    /// Re-wraps this actor's keys under a new passphrase; the old one stops working.
    public func changePassphrase(to passphrase: SecureBytes, kdf: Scrypt.Parameters = .passphraseDefault) throws {
        try Self.checkPassphrase(passphrase)
        var file = try KeyslotFile.load(from: layout.keyslots)
        guard let index = file.slots.firstIndex(where: { $0.actor == actor }) else { throw VaultError.unknownActor(actor) }
        let old = file.slots[index]
        var slot = try Keyslot.seal(bundle: bundle, actor: actor, role: role, vaultID: file.vaultID,
                                    passphrase: passphrase, kdf: kdf)
        slot.createdAt = old.createdAt
        file.slots[index] = slot
        try file.save(to: layout.keyslots)
        try audit(.actorPassphrase, target: "actor:\(actor)")
    }

    /// Names: a letter, then letters, digits, `.`, `_`, `-`; at most 64.
    public static func isValidActorName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, (1...64).contains(name.unicodeScalars.count),
              ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }
    }

    func masterKey() throws -> SymmetricKey {
        guard let master = bundle[KeyBundle.Name.master] else {
            throw VaultError.permissionDenied(actor: actor, role: role.rawValue, needs: "the vault master key")
        }
        return master
    }
}
