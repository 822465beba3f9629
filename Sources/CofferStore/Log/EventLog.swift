import CofferCrypto
import Foundation
package import GRDB
import Synchronization

/// An event to append: whose it is, what kind, and its plaintext payload.
public struct NewEvent: Sendable {
    public var subject: SubjectID
    public var kind: EventKind
    /// Plaintext payload (Coffer stores JSON); encrypted before it touches disk.
    public var payload: [UInt8]
    /// When it was recorded, in ms since 1970 (UTC).
    public var recordedAt: Int64
    /// When it happened, if it says (a Segment event's `timestamp`): chooses
    /// the key epoch it is sealed under (`KeyEpoch.filingTime`). Not stored in clear.
    public var occurredAt: Int64?

    public init(subject: SubjectID, kind: EventKind, payload: [UInt8], recordedAt: Int64 = EventLog.now(), occurredAt: Int64? = nil) {
        self.subject = subject
        self.kind = kind
        self.payload = payload
        self.recordedAt = recordedAt
        self.occurredAt = occurredAt
    }

    /// The key version the event is sealed under: its kind's month (`KeyEpoch`), or the subject's record key.
    public var keyVersion: UInt32 { KeyEpoch.version(of: kind, filedAt: KeyEpoch.filingTime(occurredAt: occurredAt, recordedAt: recordedAt)) }
}

/// An event `EventLog.scan` passes on, decrypted.
public struct ScannedEvent {
    public var seq: Int64
    public var subject: SubjectID
    /// The subject's number in this scan: 0, 1, 2… in the order subjects are
    /// first met. A caller can keep per-subject state in an array at that
    /// position instead of looking the subject up again. Numbers of subjects
    /// whose events are all skipped (shredded) never reach the caller: expect gaps.
    public var subjectNumber: Int
    public var kind: EventKind
    public var payload: [UInt8]
}

/// A decrypted event read back from the log.
public struct StoredEvent: Sendable, Equatable {
    public var seq: Int64
    public var recordedAt: Int64
    public var subject: SubjectID
    public var kind: EventKind
    public var payload: [UInt8]
}

/// What an append committed.
public struct AppendReceipt: Sendable, Equatable {
    /// Sequence numbers of the first and last appended event.
    public var firstSeq: Int64, lastSeq: Int64
    /// Chain hash after the last event.
    public var headHash: [UInt8]
    /// Number of checkpoints signed during the append.
    public var checkpoints: Int
    public var count: Int { Int(lastSeq - firstSeq + 1) }
}

/// The encrypted, append-only, hash-chained event log.
///
/// Each subject has a random record key (wrapped in the keyring). A collected
/// event is sealed with AES-256-GCM under a key derived from it and the secret
/// of the event's kind and month (`KeyEpoch`), a decision under the record key
/// itself; associated data binds vault, subject, key version and kind. Rows
/// form a SHA-256 chain, and every append ends with an Ed25519-signed
/// checkpoint of the chain head, written in the
/// same transaction: an acknowledged append is complete, signed and durable.
///
/// Not thread-safe (it reuses OpenSSL contexts): one instance per task.
public final class EventLog {
    /// How many events may pass between two signed checkpoints inside one large append.
    public var checkpointInterval = 100_000

    /// Seals new events and identifier values under each subject's one legacy
    /// key, as vaults from before key epochs did. Only for tests of the move onto key epochs.
    package var sealsUnderLegacyKeys = false

    /// The connection this log reads and writes through.
    package let database: DatabaseQueue
    fileprivate let vaultID: [UInt8]
    private let keys: VaultKeys
    fileprivate let cipher: AESGCMContext
    private let sha: SHA256
    private let random = RandomPool(capacity: 16 * 1024)
    private var subjectKeys: [KeySlot: SymmetricKey] = [:]
    /// Event keys derived for appending (a subject's kind and month), apart from the
    /// keyring keys so that many months never push the record keys out.
    private var eventKeys: [KeySlot: SymmetricKey] = [:]
    /// Epoch secrets met, each as an HMAC context keyed with it (nil: destroyed by retention).
    private var epochSecrets: [UInt32: HMACSHA256?] = [:]
    /// Whether the keyring holds legacy keys (a vault from before key epochs); nil: not looked at yet.
    private var legacyKeysExist: Bool?
    /// The message an event key is derived from, reused (`eventKey`), and the length of its fixed prefix.
    private var eventKeyMessage: [UInt8]
    private let eventKeyPrefixCount: Int
    /// The vault's count of key destructions when the caches were last checked (`KeyDestructions`).
    private var destructionsSeen: Int64?
    private let subjectKeyCacheLimit = 250_000
    /// Event keys (a subject's key of one kind and month) cost one keyed HMAC to derive again
    /// (0.4 µs; 2.5 % of an ingest's CPU while fewer were kept than a month's subjects). The
    /// resident size that once grew with them came from the allocator keeping freed pages
    /// (`Jemalloc.returnFreedPages`), not from the keys (about 100 bytes each).
    private let eventKeyCacheLimit = 131_072
    /// Fires when a transaction that created subject keys rolls back, so the
    /// cache never keeps a key whose keyring row was undone.
    private let keyRollback = RollbackSignal()

    init(database: DatabaseQueue, vaultID: [UInt8], keys: VaultKeys) throws {
        self.database = database
        self.vaultID = vaultID
        self.keys = keys
        eventKeyMessage = LogChain.eventKeyPrefix(vaultID: vaultID)
        eventKeyPrefixCount = eventKeyMessage.count
        cipher = try AESGCMContext()
        sha = try SHA256()
    }

    /// Milliseconds since 1970 now.
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Appends `events` in one transaction: all land, chained and signed, or none do.
    ///
    /// O(n) in the number of events; memory is bounded by the batch plus the key cache.
    @discardableResult
    public func append(_ events: [NewEvent]) throws -> AppendReceipt {
        do {
            return try database.write { db in try append(events, in: db) }
        } catch {
            throw VaultError.storage(operation: "appending to the event log", error: error, path: database.path)
        }
    }

    /// Appends inside a write transaction the caller holds, so other writes
    /// (identity links, dedup keys, quarantine) commit or roll back with the events.
    /// Ends with a signed checkpoint when at least one event was appended.
    package func append(_ events: [NewEvent], in db: Database) throws -> AppendReceipt {
        guard !events.isEmpty else {
            let head = try currentHead(db)
            return AppendReceipt(firstSeq: head.seq + 1, lastSeq: head.seq, headHash: head.hash, checkpoints: 0)
        }
        try revalidateKeys(db)
        var (seq, previous) = try currentHead(db)
        let firstSeq = seq + 1
        let insert = RawStatement(try db.cachedStatement(sql: """
            INSERT INTO events(seq, recorded_at, subject_id, kind, key_version, nonce, ciphertext, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """))
        var checkpoints = 0
        var sinceCheckpoint = 0
        var subjects: [SubjectID] = []
        subjects.reserveCapacity(events.count)
        for event in events {
            seq += 1
            let version = sealsUnderLegacyKeys ? KeyEpoch.legacyVersion : event.keyVersion
            let key = try sealingKey(KeySlot(subject: event.subject, version: version), db: db)
            let kind = event.kind.rawValue
            let nonce = Array(try random.next(AESGCM.nonceByteCount))
            let subjectBytes = event.subject.bytes
            let aad = LogChain.associatedData(vaultID: vaultID, subjectID: subjectBytes, keyVersion: version, kind: kind)
            let sealed = try cipher.seal(event.payload, key: key, nonce: nonce, authenticating: aad)
            let row = LogChain.Row(seq: seq, recordedAt: event.recordedAt, subjectID: subjectBytes, kind: kind,
                                   keyVersion: version, nonce: nonce, ciphertext: sealed)
            let hash = try LogChain.hash(previous: previous, row: row, using: sha)
            insert.reset()
            try insert.bind(1, seq)
            try insert.bind(2, event.recordedAt)
            try insert.bind(3, blob: subjectBytes)
            try insert.bind(4, text: kind)
            try insert.bind(5, Int64(version))
            try insert.bind(6, blob: nonce)
            try insert.bind(7, blob: sealed)
            try insert.bind(8, blob: previous)
            try insert.bind(9, blob: hash)
            _ = try insert.step("appending an event")
            previous = hash
            subjects.append(event.subject)
            sinceCheckpoint += 1
            if sinceCheckpoint >= checkpointInterval {
                try signCheckpoint(db, seq: seq, hash: hash)
                checkpoints += 1
                sinceCheckpoint = 0
            }
        }
        if sinceCheckpoint > 0 {
            try signCheckpoint(db, seq: seq, hash: previous)
            checkpoints += 1
        }
        try SubjectIndex.record(subjects: subjects, firstSeq: firstSeq, in: db)
        return AppendReceipt(firstSeq: firstSeq, lastSeq: seq, headHash: previous, checkpoints: checkpoints)
    }

    private func signCheckpoint(_ db: Database, seq: Int64, hash: [UInt8]) throws {
        let signedAt = Self.now()
        let message = LogChain.checkpointMessage(vaultID: vaultID, seq: seq, hash: hash, signedAt: signedAt)
        let signature = try keys.checkpointSigning.signature(for: message)
        try db.execute(sql: "INSERT INTO checkpoints(seq, hash, signed_at, signature) VALUES (?, ?, ?, ?)",
                       arguments: [seq, Data(hash), signedAt, Data(signature)])
    }

    private func currentHead(_ db: Database) throws -> (seq: Int64, hash: [UInt8]) {
        if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1") {
            let hash: Data = row[1]
            return (row[0], Array(hash))
        }
        return (0, try LogChain.genesis(vaultID: vaultID))
    }

    /// The last sequence number and chain hash (seq 0 and the genesis hash when empty).
    public func head() throws -> (seq: Int64, hash: [UInt8]) {
        try database.read { try currentHead($0) }
    }

    /// Number of events in the log.
    public func count() throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") ?? 0 }
    }

    /// The key that seals the subject's identifier values: its legacy key in a
    /// vault from before key epochs, else its record key (created when missing).
    func identityKey(for subject: SubjectID, db: Database) throws -> SymmetricKey {
        let legacy = KeySlot(subject: subject, version: KeyEpoch.legacyVersion)
        if sealsUnderLegacyKeys { return try keyringKey(legacy, db: db) }
        if let cached = subjectKeys[legacy] { return cached }
        // Looked up per subject only while the vault has legacy keys at all (a lookup per identifier cost 12 % of ingest).
        if legacyKeysExist == nil {
            legacyKeysExist = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM keyring WHERE key_version = ?)",
                                                arguments: [Int64(KeyEpoch.legacyVersion)]) ?? false
        }
        if legacyKeysExist == true, let stored = try storedSubjectKey(subject, version: KeyEpoch.legacyVersion, db: db) {
            return remember(stored, legacy)
        }
        return try keyringKey(KeySlot(subject: subject, version: KeyEpoch.recordVersion), db: db)
    }

    /// The key a new event of `slot` is sealed under, made when missing: for a
    /// key epoch, derived from the subject's record key and the epoch's secret.
    private func sealingKey(_ slot: KeySlot, db: Database) throws -> SymmetricKey {
        if keyRollback.consume() { forgetAll() }
        if let cached = eventKeys[slot] { return cached }
        guard let epoch = KeyEpoch(version: slot.version) else { return try keyringKey(slot, db: db) }
        let record = try keyringKey(KeySlot(subject: slot.subject, version: KeyEpoch.recordVersion), db: db)
        guard let secret = try epochSecret(slot.version, create: true, db: db) else {
            throw VaultError.epochRetired(kind: epoch.kind.rawValue, month: epoch.monthLabel)
        }
        let key = try eventKey(record: record, secret: secret, slot)
        if eventKeys.count >= eventKeyCacheLimit { eventKeys.removeAll(keepingCapacity: true) }
        eventKeys[slot] = key
        return key
    }

    /// A keyring key (record or legacy), loaded or made.
    private func keyringKey(_ slot: KeySlot, db: Database) throws -> SymmetricKey {
        if keyRollback.consume() { forgetAll() }
        if let cached = subjectKeys[slot] { return cached }
        if let stored = try storedSubjectKey(slot.subject, version: slot.version, db: db) { return remember(stored, slot) }
        let key = try SymmetricKey.random()
        let wrapped = try KeyWrap.wrap(key.bytes, with: keys.subjectKeyWrapping,
                                       context: subjectKeyContext(slot.subject, slot.version), using: cipher)
        let insert = RawStatement(try db.cachedStatement(
            sql: "INSERT INTO keyring(subject_id, key_version, wrapped_key, created_at) VALUES (?, ?, ?, ?)"))
        insert.reset()
        try insert.bind(1, blob: slot.subject.bytes)
        try insert.bind(2, Int64(slot.version))
        try insert.bind(3, blob: wrapped)
        try insert.bind(4, Self.now())
        _ = try insert.step("storing a subject key")
        keyRollback.arm(db)
        return remember(key, slot)
    }

    /// The secret of key epoch `version`: nil once retention destroyed it (its
    /// row stays, emptied, so the month is never given a new one), or when it
    /// does not exist and `create` is false.
    private func epochSecret(_ version: UInt32, create: Bool, db: Database) throws -> HMACSHA256? {
        if let known = epochSecrets[version] { return known }
        let select = RawStatement(try db.cachedStatement(sql: "SELECT wrapped_key FROM epoch_keys WHERE key_version = ?"))
        select.reset()
        defer { select.reset() }
        try select.bind(1, Int64(version))
        if try select.step("reading a key epoch") {
            let secret: SymmetricKey?
            do {
                secret = select.isNull(0) ? nil
                    : try SymmetricKey(KeyWrap.unwrap(select.blob(0), with: keys.subjectKeyWrapping, context: epochKeyContext(version), using: cipher))
            } catch is CryptoError {
                throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the secret of key epoch \(version) fails authentication; run `coffer verify`")
            }
            let mac = try secret.map { try HMACSHA256(key: $0) }
            epochSecrets[version] = .some(mac)
            return mac
        }
        guard create else { return nil }   // not remembered: another writer may make it
        let secret = try SymmetricKey.random()
        let wrapped = try KeyWrap.wrap(secret.bytes, with: keys.subjectKeyWrapping, context: epochKeyContext(version), using: cipher)
        try db.execute(sql: "INSERT INTO epoch_keys(key_version, wrapped_key, created_at) VALUES (?, ?, ?)",
                       arguments: [Int64(version), Data(wrapped), Self.now()])
        keyRollback.arm(db)
        let mac = try HMACSHA256(key: secret)
        epochSecrets[version] = .some(mac)
        return mac
    }

    /// The key of one subject's events in one key epoch:
    /// HMAC-SHA256(epoch secret, context ‖ subject's record key), i.e.
    /// HKDF-Extract with the secret as salt, so that destroying either
    /// (retention, erasure) makes it underivable. A context keyed once per
    /// epoch costs 0.4 µs a key; a one-shot HKDF cost 4 µs (FINDINGS.md).
    private func eventKey(record: SymmetricKey, secret: HMACSHA256, _ slot: KeySlot) throws -> SymmetricKey {
        // One buffer for every derivation: the vault's part stays, the rest is rewritten (and wiped).
        eventKeyMessage.removeSubrange(eventKeyPrefixCount...)
        slot.subject.withUnsafeBytes { LogChain.appendEventKeyFields(to: &eventKeyMessage, subjectID: $0, keyVersion: slot.version) }
        record.withUnsafeBytes { eventKeyMessage.append(contentsOf: $0) }
        // Wipe the record key's bytes (only: the prefix is kept for the next derivation).
        defer { eventKeyMessage.wipe(from: eventKeyPrefixCount) }
        return try SymmetricKey(SecureBytes(count: SymmetricKey.byteCount) { out in
            try eventKeyMessage.withUnsafeBytes { try secret.authenticate($0, into: out) }
        })
    }

    private func remember(_ key: SymmetricKey, _ slot: KeySlot) -> SymmetricKey {
        if subjectKeys.count >= subjectKeyCacheLimit { subjectKeys.removeAll(keepingCapacity: true) }
        subjectKeys[slot] = key
        return key
    }

    /// Empties the key caches when another connection destroyed keys since
    /// they were filled (an erasure or a retention run): a cached key must not
    /// outlive its destruction.
    private func revalidateKeys(_ db: Database) throws {
        let count = try KeyDestructions.count(db)
        if count != destructionsSeen {
            forgetAll()
            destructionsSeen = count
        }
    }

    private func forgetAll() {
        legacyKeysExist = nil
        subjectKeys.removeAll(keepingCapacity: true)
        eventKeys.removeAll(keepingCapacity: true)
        epochSecrets.removeAll()
    }

    /// Drops `subjects`' keys from the cache (after they were shredded).
    func forget(_ subjects: [SubjectID]) {
        let gone = Set(subjects)
        subjectKeys = subjectKeys.filter { !gone.contains($0.key.subject) }
        eventKeys = eventKeys.filter { !gone.contains($0.key.subject) }
    }

    /// Drops every key of `versions` from the cache (after retention destroyed them).
    func forget(versions: Set<UInt32>) {
        subjectKeys = subjectKeys.filter { !versions.contains($0.key.version) }
        eventKeys = eventKeys.filter { !versions.contains($0.key.version) }
        for version in versions { epochSecrets[version] = nil }
    }

    /// The key `subject`'s events of `version` were sealed under; nil when it
    /// was shredded (the person erased, or the month past retention).
    ///
    /// - Parameter record: the subject's record key, when the caller has it at hand.
    fileprivate func storedEventKey(_ subject: SubjectID, version: UInt32, db: Database,
                                    record: (() throws -> SymmetricKey?)? = nil) throws -> SymmetricKey? {
        guard KeyEpoch(version: version) != nil else { return try storedSubjectKey(subject, version: version, db: db) }
        guard let secret = try epochSecret(version, create: false, db: db),
              let record = try record.map({ try $0() }) ?? storedSubjectKey(subject, version: KeyEpoch.recordVersion, db: db) else {
            return nil
        }
        return try eventKey(record: record, secret: secret, KeySlot(subject: subject, version: version))
    }

    /// The subject's keyring key of `version`, unwrapped; nil when it was shredded (or never existed).
    /// One prepared statement per connection serves every lookup: preparing it anew cost
    /// 10 % of a projection build.
    fileprivate func storedSubjectKey(_ subject: SubjectID, version: UInt32, db: Database) throws -> SymmetricKey? {
        let select = RawStatement(try db.cachedStatement(sql: "SELECT wrapped_key FROM keyring WHERE subject_id = ? AND key_version = ?"))
        select.reset()
        defer { select.reset() }
        try select.bind(1, subject: subject)
        try select.bind(2, Int64(version))
        guard try select.step("reading a subject key") else { return nil }
        return try unwrapSubjectKey(select.blob(0), subject, version)
    }

    /// Unwraps a keyring row's key; the context binds it to its vault, subject and version.
    private func unwrapSubjectKey(_ wrapped: [UInt8], _ subject: SubjectID, _ version: UInt32) throws -> SymmetricKey {
        do {
            return try SymmetricKey(KeyWrap.unwrap(wrapped, with: keys.subjectKeyWrapping, context: subjectKeyContext(subject, version), using: cipher))
        } catch is CryptoError {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "a key in the keyring (version \(version)) fails authentication; run `coffer verify`")
        }
    }

    private func subjectKeyContext(_ subject: SubjectID, _ version: UInt32) -> [UInt8] {
        LogChain.subjectKeyContext(vaultID: vaultID, subjectID: subject.bytes, keyVersion: version)
    }

    private func epochKeyContext(_ version: UInt32) -> [UInt8] {
        LogChain.epochKeyContext(vaultID: vaultID, keyVersion: version)
    }

    /// Streams every event of `kinds` after `afterSeq`, decrypted, in log order,
    /// to `body`. Events whose key was shredded (erasure or retention) are skipped. Subject keys are
    /// unwrapped once each; memory stays bounded by the number of subjects, not events.
    ///
    /// - Parameters:
    ///   - including: when given, only events of subjects it accepts are
    ///     decrypted and passed on (the others are skipped before any key is touched).
    ///   - sharedKeys: subject keys shared with other threads reading the same log at the same time.
    package func scan(kinds: Set<EventKind>, afterSeq: Int64 = 0, throughSeq: Int64 = .max, in db: Database,
                     including: ((SubjectID) -> Bool)? = nil, sharedKeys: SubjectKeyCache? = nil,
                     _ body: (ScannedEvent) throws -> Void) throws {
        try revalidateKeys(db)
        // Each subject met gets the next number; the keys of it met so far are kept at that position.
        var numbers: [SubjectID: Int] = [:]
        var subjectKeys: [ScanKeys] = []
        // Kinds are filtered here, not in SQL: an `IN` list costs SQLite a text comparison per row,
        // and most rows are of a wanted kind.
        let statement = RawStatement(try db.makeStatement(sql: """
            SELECT seq, subject_id, kind, key_version, nonce, ciphertext FROM events
            WHERE seq > ? AND seq <= ? ORDER BY seq
            """))
        try statement.bind(1, afterSeq)
        try statement.bind(2, throughSeq)
        // One associated-data buffer for every event: the vault's part stays, the event's part is rewritten.
        var aad = LogChain.associatedDataPrefix(vaultID: vaultID)
        let prefixCount = aad.count
        while try statement.step("reading the event log") {
            let kindText = statement.text(2)
            guard let kind = EventKind(rawValue: kindText), kinds.contains(kind) else { continue }
            let seq = statement.int64(0)
            let subject = try statement.withBlob(1) { try SubjectID(raw: $0) }
            if let including, !including(subject) { continue }
            let version = UInt32(truncatingIfNeeded: statement.int64(3))
            let number: Int
            if let known = numbers[subject] {
                number = known
            } else {
                number = subjectKeys.count
                numbers[subject] = number
                subjectKeys.append(ScanKeys())
            }
            let found: SymmetricKey?
            if let known = subjectKeys[number].key(version) {
                found = known
            } else {
                if KeyEpoch(version: version) != nil {
                    // A month's key derives from the record key (unwrapped once per subject, and shared
                    // with the other readers) and the month's secret: deriving costs less than sharing it.
                    let record = { () throws -> SymmetricKey? in
                        if let known = subjectKeys[number].key(KeyEpoch.recordVersion) { return known }
                        let load = { try self.storedSubjectKey(subject, version: KeyEpoch.recordVersion, db: db) }
                        let key = try sharedKeys.map { try $0.key(subject, version: KeyEpoch.recordVersion, orLoad: load) } ?? load()
                        subjectKeys[number].add(KeyEpoch.recordVersion, key)
                        return key
                    }
                    found = try storedEventKey(subject, version: version, db: db, record: record)
                } else {
                    let load = { try self.storedSubjectKey(subject, version: version, db: db) }
                    found = try sharedKeys.map { try $0.key(subject, version: version, orLoad: load) } ?? load()
                }
                subjectKeys[number].add(version, found)
            }
            // No key: shredded (the person erased, or the epoch past retention).
            guard let key = found else { continue }
            aad.removeSubrange(prefixCount...)
            subject.withUnsafeBytes { LogChain.appendEventFields(to: &aad, subjectID: $0, keyVersion: version, kind: kindText) }
            let payload: [UInt8]
            do {
                payload = try statement.withBlob(5) { sealed in
                    try statement.withBlob(4) { nonce in
                        try aad.withUnsafeBytes { try cipher.open(sealed, key: key, nonce: nonce, authenticating: $0) }
                    }
                }
            } catch CryptoError.authenticationFailed {
                throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "event \(seq) fails authentication; run `coffer verify`")
            }
            try body(ScannedEvent(seq: seq, subject: subject, subjectNumber: number, kind: kind, payload: payload))
        }
    }

    /// The keys of one subject a scan has met: few (one per kind and month),
    /// searched newest first, since a subject's events mostly come in time order.
    private struct ScanKeys {
        private var versions: [UInt32] = []
        /// nil: shredded.
        private var keys: [SymmetricKey?] = []

        /// `.some(nil)` for a shredded key, nil when not met yet.
        func key(_ version: UInt32) -> SymmetricKey?? {
            var index = versions.count - 1
            while index >= 0 {
                if versions[index] == version { return .some(keys[index]) }
                index -= 1
            }
            return nil
        }

        mutating func add(_ version: UInt32, _ key: SymmetricKey?) {
            versions.append(version)
            keys.append(key)
        }
    }

    /// Every event of `subject`, decrypted, in log order. Empty if the subject's
    /// key was shredded or the subject is unknown.
    ///
    /// - Throws: `VaultError.corruptFile` if a stored ciphertext fails authentication.
    public func events(of subject: SubjectID) throws -> [StoredEvent] {
        try database.read { try events(of: subject, in: $0) }
    }

    /// The events of `subject` (only of `kinds`, when given), decrypted, in log
    /// order, read inside the caller's transaction.
    package func events(of subject: SubjectID, kinds: Set<EventKind>? = nil, in db: Database) throws -> [StoredEvent] {
        try revalidateKeys(db)
        var keyCache: [UInt32: SymmetricKey] = [:]
        var shredded = Set<UInt32>()
        // Every month key derives from the one record key: it is unwrapped once, when first needed.
        var record: SymmetricKey??
        let recordKey = { () throws -> SymmetricKey? in
            if let record { return record }
            let loaded = try self.storedSubjectKey(subject, version: KeyEpoch.recordVersion, db: db)
            record = .some(loaded)
            return loaded
        }
        var out: [StoredEvent] = []
        for row in try SubjectIndex.rows(of: subject, columns: "seq, recorded_at, kind, key_version, nonce, ciphertext, subject_id", in: db) {
            if let kinds, !kinds.contains(where: { $0.rawValue == row[2] as String }) { continue }
            guard let version = UInt32(exactly: row[3] as Int64) else {
                throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "event \(row[0] as Int64) has an impossible key version; run `coffer verify`")
            }
            let key: SymmetricKey
            if let cached = keyCache[version] {
                key = cached
            } else {
                guard !shredded.contains(version), let stored = try storedEventKey(subject, version: version, db: db, record: recordKey) else {
                    shredded.insert(version)
                    continue
                }
                key = stored
                keyCache[version] = key
            }
            out.append(try open(seq: row[0], recordedAt: row[1], subject: subject, kind: row[2], version: version,
                                nonce: row[4], sealed: row[5], key: key))
        }
        return out
    }

    /// One stored row, decrypted: the kind checked, the associated data rebuilt, the payload opened.
    fileprivate func open(seq: Int64, recordedAt: Int64, subject: SubjectID, kind kindText: String, version: UInt32,
                          nonce: Data, sealed: Data, key: SymmetricKey) throws -> StoredEvent {
        guard let kind = EventKind(rawValue: kindText) else {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "event \(seq) has unknown kind")
        }
        let aad = LogChain.associatedData(vaultID: vaultID, subjectID: subject.bytes, keyVersion: version, kind: kindText)
        do {
            let payload = try cipher.open(Array(sealed), key: key, nonce: Array(nonce), authenticating: aad)
            return StoredEvent(seq: seq, recordedAt: recordedAt, subject: subject, kind: kind, payload: payload)
        } catch CryptoError.authenticationFailed {
            throw VaultError.corruptFile(path: VaultLayout.databaseName, reason: "event \(seq) fails authentication; run `coffer verify`")
        }
    }
}

extension EventLog {
    /// Up to `limit` events after `afterSeq` sealed under subjects' legacy keys
    /// (vaults from before key epochs), decrypted, in log order, and the last
    /// position looked at. Rows whose legacy key is gone (erased) are skipped.
    ///
    /// - Parameter keys: legacy keys met so far (nil: gone), kept by the caller across calls.
    func legacyEvents(after afterSeq: Int64, limit: Int, keys: inout [SubjectID: SymmetricKey?],
                      in db: Database) throws -> (events: [StoredEvent], lastSeq: Int64?) {
        let version = KeyEpoch.legacyVersion
        let rows = try Row.fetchAll(db, sql: """
            SELECT seq, recorded_at, subject_id, kind, nonce, ciphertext FROM events
            WHERE seq > ? AND key_version = ? ORDER BY seq LIMIT ?
            """, arguments: [afterSeq, Int64(version), limit])
        var out: [StoredEvent] = []
        for row in rows {
            let subject = try SubjectID(bytes: Array(row[2] as Data))
            let key: SymmetricKey?
            if let known = keys[subject] {
                key = known
            } else {
                key = try storedSubjectKey(subject, version: version, db: db)
                keys[subject] = .some(key)
            }
            guard let key else { continue }
            out.append(try open(seq: row[0], recordedAt: row[1], subject: subject, kind: row[3], version: version,
                                nonce: row[4], sealed: row[5], key: key))
        }
        return (out, rows.last.map { $0[0] as Int64 })
    }
}

/// Tells a cache that the transaction it added entries in was rolled back.
///
/// GRDB reports the end of a transaction to `@Sendable` closures, so the flag
/// lives in this small locked object rather than in the (non-Sendable) cache
/// owner. Savepoint rollbacks inside a transaction are not reported; Coffer's
/// writers do not use savepoints.
final class RollbackSignal: Sendable {
    private struct State {
        var armed = false
        var fired = false
    }

    private let state = Mutex(State())

    /// Watches `db`'s current transaction; registers once per transaction.
    /// - Returns: whether this was the first call in the transaction.
    @discardableResult
    func arm(_ db: Database) -> Bool {
        let first = state.withLock { state -> Bool in
            defer { state.armed = true }
            return !state.armed
        }
        guard first else { return false }
        db.afterNextTransaction(onCommit: { [self] _ in finish(rolledBack: false) },
                                onRollback: { [self] _ in finish(rolledBack: true) })
        return true
    }

    /// `true` once after a watched transaction rolled back.
    func consume() -> Bool {
        state.withLock { state in
            defer { state.fired = false }
            return state.fired
        }
    }

    private func finish(rolledBack: Bool) {
        state.withLock { state in
            state.armed = false
            if rolledBack { state.fired = true }
        }
    }
}
