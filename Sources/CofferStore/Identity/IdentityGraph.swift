import CofferCrypto
import Foundation
package import GRDB
import CofferFormats

/// Links identifiers to subjects through keyed tokens, and merges subjects
/// that turn out to be one person.
///
/// Only HMAC tokens and random subject ids are stored in clear; each
/// identifier's value is kept encrypted under its subject's data key (so
/// shredding that key erases it too). Works inside a write transaction the
/// caller holds: identity links commit together with the events they explain.
public final class IdentityGraph {
    private let vaultID: [UInt8]
    private let log: EventLog
    /// Keyed with the pseudonymisation key (`EventHasher` takes a copy for another thread).
    let hmac: HMACSHA256
    private let cipher: AESGCMContext
    private let random = RandomPool()
    /// Token → subject across this graph's transactions (an ingest's batches).
    let tokens = TokenCache()

    init(vaultID: [UInt8], keys: VaultKeys, log: EventLog) throws {
        self.vaultID = vaultID
        self.log = log
        hmac = try HMACSHA256(key: keys.pseudonymisation)
        cipher = try AESGCMContext()
    }

    /// The keyed token of an identifier.
    public func token(_ identifier: Identifier) throws -> [UInt8] {
        try Self.token(identifier, using: hmac)
    }

    /// The token under `hmac` (this graph's context, or an `EventHasher`'s copy of it).
    static func token(_ identifier: Identifier, using hmac: HMACSHA256) throws -> [UInt8] {
        try hmac.authenticate(identifier.tokenInput)
    }

    /// The subject an identifier belongs to, if any.
    package func subject(for identifier: Identifier, in db: Database) throws -> SubjectID? {
        try subject(forToken: token(identifier), in: db)
    }

    /// - Parameter cached: look in (and fill) the token cache; only inside a write transaction.
    func subject(forToken token: [UInt8], in db: Database, cached: Bool = false) throws -> SubjectID? {
        if cached, let known = try tokens.subject(forToken: token, in: db) { return known }
        let select = RawStatement(try db.cachedStatement(sql: "SELECT subject_id FROM identities WHERE token = ?"))
        select.reset()
        defer { select.reset() }
        try select.bind(1, blob: token)
        guard try select.step("looking up an identifier") else { return nil }
        let subject = try SubjectID(bytes: select.blob(0))
        if cached { tokens.remember(token, subject, in: db) }
        return subject
    }

    /// What resolving one record's identifiers decided.
    public struct Resolution: Sendable {
        /// The subject the record belongs to.
        public var subject: SubjectID
        /// `true` when no identifier was known and a subject was created.
        public var created: Bool
        /// Subjects absorbed into `subject` because the record linked them.
        public var absorbed: [SubjectID]
    }

    /// Finds or creates the subject for a record's identifiers, links the new
    /// ones, and merges subjects the record shows to be one person.
    ///
    /// The survivor of a merge is the subject whose identity was recorded
    /// first (ties: the smaller id), so the same input always gives the same result.
    ///
    /// - Parameter tokens: the identifiers' tokens when worked out already (`EventHasher`), in the same order.
    package func resolve(_ identifiers: [Identifier], tokens: [[UInt8]]? = nil, at time: Int64, in db: Database) throws -> Resolution {
        precondition(!identifiers.isEmpty, "a record needs at least one identifier")
        precondition(tokens == nil || tokens!.count == identifiers.count, "one token per identifier")
        var known: [SubjectID] = []
        var unknown: [(Identifier, [UInt8])] = []
        for (index, identifier) in identifiers.enumerated() {
            let token = try tokens?[index] ?? token(identifier)
            if let subject = try subject(forToken: token, in: db, cached: true) {
                if !known.contains(subject) { known.append(subject) }
            } else if !unknown.contains(where: { $0.1 == token }) {
                unknown.append((identifier, token))
            }
        }
        var resolution: Resolution
        if known.isEmpty {
            resolution = Resolution(subject: try SubjectID.random(), created: true, absorbed: [])
        } else if known.count == 1 {
            resolution = Resolution(subject: known[0], created: false, absorbed: [])
        } else {
            let survivor = try oldest(of: known, in: db)
            let absorbed = known.filter { $0 != survivor }
            for subject in absorbed { try repoint(subject, to: survivor, in: db) }
            resolution = Resolution(subject: survivor, created: false, absorbed: absorbed)
        }
        for (identifier, token) in unknown {
            try link(identifier, token: token, to: resolution.subject, at: time, in: db)
        }
        return resolution
    }

    /// Records that `absorbed` was merged into `survivor` at log position `seq`.
    package func recordMerge(absorbed: SubjectID, survivor: SubjectID, seq: Int64, in db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO merges(absorbed_id, survivor_id, seq) VALUES (?, ?, ?)",
                       arguments: [Data(absorbed.bytes), Data(survivor.bytes), seq])
        // Subjects absorbed earlier into `absorbed` now belong to `survivor`.
        try db.execute(sql: "UPDATE merges SET survivor_id = ? WHERE survivor_id = ?",
                       arguments: [Data(survivor.bytes), Data(absorbed.bytes)])
        try Restrictions.merge(absorbed: absorbed, into: survivor, in: db)
    }

    /// Every absorbed subject and the survivor that stands for it now (merges are kept
    /// flat, so one lookup is enough): what a build folds together and an export follows.
    package static func survivors(in db: Database) throws -> [SubjectID: SubjectID] {
        var survivors: [SubjectID: SubjectID] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT absorbed_id, survivor_id FROM merges") {
            survivors[try SubjectID(bytes: Array(row[0] as Data))] = try SubjectID(bytes: Array(row[1] as Data))
        }
        return survivors
    }

    /// The subject that stands for `subject` now: itself, or the survivor it was
    /// merged into (merges are kept flat: an absorbed id points at the survivor).
    package func survivor(of subject: SubjectID, in db: Database) throws -> SubjectID? {
        if let survivor = try Data.fetchOne(db, sql: "SELECT survivor_id FROM merges WHERE absorbed_id = ?",
                                            arguments: [Data(subject.bytes)]) {
            return try SubjectID(bytes: Array(survivor))
        }
        return subject
    }

    /// The subject and every subject merged into it: whose events make up one person.
    package func mergedSubjects(of subject: SubjectID, in db: Database) throws -> [SubjectID] {
        let absorbed = try Data.fetchAll(db, sql: "SELECT absorbed_id FROM merges WHERE survivor_id = ? ORDER BY seq",
                                         arguments: [Data(subject.bytes)])
        return try [subject] + absorbed.map { try SubjectID(bytes: Array($0)) }
    }

    /// Every event (of `kinds`, when given) of the person: `subject` and every
    /// subject merged into it, decrypted, in log order.
    package func events(ofPerson subject: SubjectID, kinds: Set<EventKind>? = nil, in db: Database) throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        for id in try mergedSubjects(of: subject, in: db) { events += try log.events(of: id, kinds: kinds, in: db) }
        return events.sorted { $0.seq < $1.seq }
    }

    /// The subject's identifiers, decrypted.
    package func identifiers(of subject: SubjectID, in db: Database) throws -> [Identifier] {
        try linked(to: subject, in: db).map(\.identifier)
    }

    /// One identity row, decrypted.
    private struct LinkedIdentifier {
        var token: [UInt8]
        var createdAt: Int64
        var identifier: Identifier
    }

    /// Every identity row of `subject`, decrypted, oldest first. Refuses rows it
    /// cannot read rather than skipping them: a merge re-links every row, and a
    /// skipped one would be lost.
    private func linked(to subject: SubjectID, in db: Database) throws -> [LinkedIdentifier] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT token, created_at, id_type, nonce, value FROM identities WHERE subject_id = ? ORDER BY created_at, id_type
            """, arguments: [Data(subject.bytes)])
        // No rows (a shredded subject, say): no key is needed, and none may be created in a read.
        guard !rows.isEmpty else { return [] }
        let key = try log.identityKey(for: subject, db: db)
        return try rows.map { row in
            let token: Data = row[0], typeText: String = row[2], nonce: Data = row[3], sealed: Data = row[4]
            guard let type = IdentifierType(rawValue: typeText) else {
                throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "an identity row has the unknown type '\(typeText)'")
            }
            let plain = try cipher.open(Array(sealed), key: key, nonce: Array(nonce),
                                        authenticating: valueContext(subject: subject, type: type))
            guard let identifier = Identifier(type: type, raw: String(decoding: plain, as: UTF8.self)) else {
                throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "an identity row holds an invalid \(typeText) identifier")
            }
            return LinkedIdentifier(token: Array(token), createdAt: row[1], identifier: identifier)
        }
    }

    private func link(_ identifier: Identifier, token: [UInt8], to subject: SubjectID, at time: Int64, in db: Database) throws {
        let key = try log.identityKey(for: subject, db: db)
        let nonce = Array(try random.next(AESGCM.nonceByteCount))
        let sealed = try cipher.seal(Array(identifier.value.utf8), key: key, nonce: nonce,
                                     authenticating: valueContext(subject: subject, type: identifier.type))
        let insert = RawStatement(try db.cachedStatement(sql: """
            INSERT INTO identities(token, subject_id, id_type, nonce, value, created_at) VALUES (?, ?, ?, ?, ?, ?)
            """))
        insert.reset()
        try insert.bind(1, blob: token)
        try insert.bind(2, blob: subject.bytes)
        try insert.bind(3, text: identifier.type.rawValue)
        try insert.bind(4, blob: nonce)
        try insert.bind(5, blob: sealed)
        try insert.bind(6, time)
        _ = try insert.step("linking an identifier")
    }

    /// Re-seals the subject's identifier values from its legacy key under its
    /// record key and destroys the legacy key (the key-epoch migration; the
    /// caller has re-sealed the subject's events first).
    func resealLegacyIdentifiers(of subject: SubjectID, in db: Database) throws {
        let rows = try linked(to: subject, in: db)
        try db.execute(sql: "DELETE FROM keyring WHERE subject_id = ? AND key_version = ?",
                       arguments: [Data(subject.bytes), Int64(KeyEpoch.legacyVersion)])
        log.forget([subject])
        try db.execute(sql: "DELETE FROM identities WHERE subject_id = ?", arguments: [Data(subject.bytes)])
        for row in rows {
            try link(row.identifier, token: row.token, to: subject, at: row.createdAt, in: db)
        }
    }

    /// Moves every identifier of `absorbed` to `survivor`, re-encrypting the values under the survivor's key.
    private func repoint(_ absorbed: SubjectID, to survivor: SubjectID, in db: Database) throws {
        let rows = try linked(to: absorbed, in: db)
        try db.execute(sql: "DELETE FROM identities WHERE subject_id = ?", arguments: [Data(absorbed.bytes)])
        for row in rows {
            try link(row.identifier, token: row.token, to: survivor, at: row.createdAt, in: db)
        }
        tokens.moved(rows.map(\.token), to: survivor)
    }

    private func oldest(of subjects: [SubjectID], in db: Database) throws -> SubjectID {
        var best: (time: Int64, id: SubjectID)?
        for subject in subjects {
            let first = try Int64.fetchOne(db, sql: "SELECT min(created_at) FROM identities WHERE subject_id = ?",
                                           arguments: [Data(subject.bytes)]) ?? Int64.max
            if best == nil || first < best!.time || (first == best!.time && subject < best!.id) {
                best = (first, subject)
            }
        }
        return best!.id
    }

    private func valueContext(subject: SubjectID, type: IdentifierType) -> [UInt8] {
        var context = Array("coffer/v1/identifier".utf8)
        context.appendLengthPrefixed(vaultID)
        context.appendLengthPrefixed(subject.bytes)
        context.append(contentsOf: type.rawValue.utf8)
        return context
    }
}
