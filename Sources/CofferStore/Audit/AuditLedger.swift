public import CofferCrypto
import Foundation
package import GRDB
import CofferFormats

/// The audit ledger: `audit.sqlite`, separate from the vault so an auditor can
/// be handed it alone. Every entry is hash-chained (SHA-256) and, when the
/// writer holds the audit signing key, Ed25519-signed; its details are
/// AES-256-GCM encrypted under the audit read key. Append-only (triggers).
///
/// Time, action and decision are in clear (no personal data); actor, role,
/// purpose, target, rows and reason are in the encrypted details.
public final class AuditLedger {
    package let queue: DatabaseQueue
    private let vaultID: [UInt8]
    private let readKey: SymmetricKey
    private let signer: Ed25519.PrivateKey?
    private let cipher: AESGCMContext
    private let sha: SHA256

    init(queue: DatabaseQueue, vaultID: [UInt8], readKey: SymmetricKey, signer: Ed25519.PrivateKey?) throws {
        self.queue = queue
        self.vaultID = vaultID
        self.readKey = readKey
        self.signer = signer
        cipher = try AESGCMContext()
        sha = try SHA256()
    }

    // MARK: Files and schema

    /// Opens (creating with `publicKey` if missing) the ledger of the vault at `layout`.
    static func open(layout: VaultLayout, vaultID: [UInt8], publicKey: Ed25519.PublicKey?, readOnly: Bool = false) throws -> DatabaseQueue {
        let exists = FileManager.default.fileExists(atPath: layout.auditDatabase.path)
        if !exists && readOnly { throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "the audit ledger is missing") }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: layout.auditDatabase.path, configuration: VaultDatabase.configuration(readOnly: readOnly))
            if !readOnly {
                try migrator.migrate(queue)
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: layout.auditDatabase.path)
            }
        } catch {
            throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "\(error)")
        }
        try queue.write { db in
            guard !readOnly else { return }
            if try VaultMeta.get(db, VaultMeta.vaultID) == nil {
                guard let publicKey else {
                    throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "the audit ledger has no public key")
                }
                try VaultMeta.set(db, VaultMeta.vaultID, vaultID)
                try VaultMeta.set(db, VaultMeta.auditPublicKey, publicKey.rawRepresentation)
            }
        }
        let stored = try queue.read { try VaultMeta.get($0, VaultMeta.vaultID) }
        guard stored == vaultID else {
            throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "it belongs to another vault")
        }
        if let publicKey, try queue.read({ try VaultMeta.get($0, VaultMeta.auditPublicKey) }) != publicKey.rawRepresentation {
            throw VaultError.corruptFile(path: layout.auditDatabase.path,
                                         reason: "its audit public key does not match the vault's keys (tampered?)")
        }
        return queue
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: audit entries") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    key   TEXT PRIMARY KEY NOT NULL,
                    value BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE entries (
                    seq        INTEGER PRIMARY KEY,   -- 1, 2, 3 … with no gaps
                    at         INTEGER NOT NULL,      -- ms since 1970, UTC
                    action     TEXT NOT NULL,
                    decision   TEXT NOT NULL,         -- allowed | denied
                    nonce      BLOB NOT NULL,
                    details    BLOB NOT NULL,         -- AES-256-GCM(audit read key): actor, role, purpose, target, rows, reason
                    prev_hash  BLOB NOT NULL,
                    hash       BLOB NOT NULL,         -- SHA-256(prev_hash ‖ seq ‖ at ‖ action ‖ decision ‖ nonce ‖ details)
                    signature  BLOB                   -- Ed25519 over the hash; NULL when the writer holds no signing key
                );
                CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
                    BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: entries cannot be updated'); END;
                CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
                    BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: entries cannot be deleted'); END;
                """)
        }
        return migrator
    }

    // MARK: Canonical forms

    static func genesis(vaultID: [UInt8]) throws -> [UInt8] {
        try SHA256.hash(Array("coffer/v1/audit-genesis".utf8) + vaultID)
    }

    static func hash(previous: [UInt8], seq: Int64, at: Int64, action: String, decision: String, nonce: [UInt8],
                     details: [UInt8], using sha: SHA256) throws -> [UInt8] {
        var bytes = previous
        bytes.appendBigEndian(seq)
        bytes.appendBigEndian(at)
        bytes.appendLengthPrefixed(action.utf8)
        bytes.appendLengthPrefixed(decision.utf8)
        bytes.appendLengthPrefixed(nonce)
        bytes.appendLengthPrefixed(details)
        try sha.reset()
        try sha.update(bytes)
        return try sha.finalize()
    }

    static func signedMessage(vaultID: [UInt8], seq: Int64, hash: [UInt8]) -> [UInt8] {
        var message = Array("coffer/v1/audit-entry".utf8)
        message.appendLengthPrefixed(vaultID)
        message.appendBigEndian(seq)
        message.appendLengthPrefixed(hash)
        return message
    }

    /// Associated data of the details: they cannot be moved to another entry.
    static func associatedData(vaultID: [UInt8], seq: Int64, at: Int64, action: String, decision: String) -> [UInt8] {
        var aad = Array("coffer/v1/audit-details".utf8)
        aad.appendLengthPrefixed(vaultID)
        aad.appendBigEndian(seq)
        aad.appendBigEndian(at)
        aad.appendLengthPrefixed(action.utf8)
        aad.appendLengthPrefixed(decision.utf8)
        return aad
    }

    // MARK: Writing and reading

    /// Appends one entry. - Returns: its sequence number.
    @discardableResult
    public func record(_ action: AuditAction, decision: AuditDecision = .allowed, details: AuditDetails,
                       at time: Int64 = EventLog.now()) throws -> Int64 {
        let plain: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            plain = Array(try encoder.encode(details))
        }
        do {
            return try queue.write { db in
                let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1")
                let seq: Int64 = (last?[0] as Int64? ?? 0) + 1
                let previous: [UInt8] = try last.map { Array($0[1] as Data) } ?? Self.genesis(vaultID: vaultID)
                let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
                let sealed = try cipher.seal(plain, key: readKey, nonce: nonce,
                                             authenticating: Self.associatedData(vaultID: vaultID, seq: seq, at: time,
                                                                                 action: action.rawValue, decision: decision.rawValue))
                let hash = try Self.hash(previous: previous, seq: seq, at: time, action: action.rawValue, decision: decision.rawValue,
                                         nonce: nonce, details: sealed, using: sha)
                let signature = try signer.map { try $0.signature(for: Self.signedMessage(vaultID: vaultID, seq: seq, hash: hash)) }
                try db.execute(sql: """
                    INSERT INTO entries(seq, at, action, decision, nonce, details, prev_hash, hash, signature)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [seq, time, action.rawValue, decision.rawValue, Data(nonce), Data(sealed), Data(previous),
                                     Data(hash), signature.map { Data($0) }])
                return seq
            }
        } catch {
            throw VaultError.storage(operation: "writing the audit ledger", error: error, path: queue.path)
        }
    }

    /// Every entry, decrypted, in order (optionally only `action`).
    public func entries(action: AuditAction? = nil) throws -> [AuditEntry] {
        try queue.read { db in
            var sql = "SELECT seq, at, action, decision, nonce, details, signature FROM entries"
            var arguments: StatementArguments = []
            if let action {
                sql += " WHERE action = ?"
                arguments = [action.rawValue]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY seq", arguments: arguments).map { row in
                let seq: Int64 = row[0], at: Int64 = row[1], actionText: String = row[2], decisionText: String = row[3]
                let nonce: Data = row[4], sealed: Data = row[5]
                let plain: [UInt8]
                do {
                    plain = try cipher.open(Array(sealed), key: readKey, nonce: Array(nonce),
                                            authenticating: Self.associatedData(vaultID: vaultID, seq: seq, at: at,
                                                                                action: actionText, decision: decisionText))
                } catch {
                    throw VaultError.corruptFile(path: VaultLayout.auditName,
                                                 reason: "audit entry \(seq) fails authentication; run `coffer audit verify`")
                }
                guard let decision = AuditDecision(rawValue: decisionText),
                      let details = try? JSONDecoder().decode(AuditDetails.self, from: Data(plain)) else {
                    throw VaultError.corruptFile(path: VaultLayout.auditName, reason: "audit entry \(seq) cannot be read")
                }
                return AuditEntry(seq: seq, at: at, action: AuditAction(rawValue: actionText), decision: decision,
                                  details: details, signed: (row[6] as Data?) != nil)
            }
        }
    }

    /// The keyed hash that stands for a query text in `query:` targets
    /// (HMAC under the audit read key: an auditor can check a given query
    /// against it; a thief cannot test guesses).
    public func queryHash(_ text: String) throws -> String {
        try HMACSHA256(key: readKey).authenticate(Array(text.utf8)).hexString
    }

    /// The target that stands for one row of a projection (`customer:HMAC`): a
    /// keyed hash of the purpose and the `customer_id` the file shows, which in
    /// some files is the person's user id, so it is never written as it is.
    public func customerTarget(purpose: String, customerID: String) throws -> String {
        "customer:" + (try HMACSHA256(key: readKey).authenticate(Array("customer|\(purpose)|\(customerID)".utf8)).hexString.prefix(32))
    }
}

/// Verifies the audit ledger with only its public key.
public enum AuditVerifier {
    /// Walks every entry: chain links, hashes, signatures. The last entries may be
    /// unsigned (written by an auditor, who holds no signing key); they are
    /// reported in `unsignedTail`. `expectedHead` (a head kept earlier) catches
    /// truncation of the tail.
    public static func verify(layout: VaultLayout, pinnedKey: Ed25519.PublicKey? = nil,
                              expectedHead: ExpectedHead? = nil) throws -> AuditVerificationReport {
        guard FileManager.default.fileExists(atPath: layout.auditDatabase.path) else {
            throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "there is no audit ledger here")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: layout.auditDatabase.path, configuration: VaultDatabase.configuration(readOnly: true))
        } catch {
            throw VaultError.corruptFile(path: layout.auditDatabase.path, reason: "\(error)")
        }
        return try queue.read { db in try verify(db, pinnedKey: pinnedKey, expectedHead: expectedHead) }
    }

    static func verify(_ db: Database, pinnedKey: Ed25519.PublicKey?, expectedHead: ExpectedHead?) throws -> AuditVerificationReport {
        var report = AuditVerificationReport()
        func fail(_ seq: Int64, _ reason: String) -> AuditVerificationReport {
            report.failure = VerificationFailure(seq: seq, reason: reason)
            return report
        }
        guard try db.tableExists("entries"), let vaultID = try VaultMeta.get(db, VaultMeta.vaultID),
              let keyBytes = try VaultMeta.get(db, VaultMeta.auditPublicKey),
              let storedKey = try? Ed25519.PublicKey(rawRepresentation: keyBytes) else {
            return fail(0, "the ledger has no vault id or audit public key")
        }
        if let pinnedKey, pinnedKey != storedKey {
            report.failure = try .keyMismatch(pinned: pinnedKey, stored: storedKey, what: "audit", export: "coffer audit export-key")
            return report
        }
        let key = pinnedKey ?? storedKey
        report.keyFingerprint = try key.fingerprint()
        let sha = try SHA256()
        var previous = try AuditLedger.genesis(vaultID: vaultID)
        var expected: Int64 = 1
        var headSeen = expectedHead == nil || expectedHead!.seq == 0
        for row in try Row.fetchAll(db, sql: """
            SELECT seq, at, action, decision, nonce, details, prev_hash, hash, signature FROM entries ORDER BY seq
            """) {
            let seq: Int64 = row[0]
            guard seq == expected else {
                return fail(expected, seq > expected ? "missing: the ledger jumps from entry \(expected - 1) to \(seq) (entries deleted)"
                    : "entries out of order")
            }
            let storedPrevious: Data = row[6], storedHash: Data = row[7]
            guard ConstantTime.equals(Array(storedPrevious), previous) else {
                return fail(seq, "does not link to entry \(seq - 1) (entries reordered, replaced or deleted)")
            }
            let hash = try AuditLedger.hash(previous: previous, seq: seq, at: row[1], action: row[2], decision: row[3],
                                            nonce: Array(row[4] as Data), details: Array(row[5] as Data), using: sha)
            guard ConstantTime.equals(hash, Array(storedHash)) else {
                return fail(seq, "contents do not match the chain hash (a field was altered)")
            }
            if let signature = row[8] as Data? {
                guard key.isValidSignature(Array(signature), for: AuditLedger.signedMessage(vaultID: vaultID, seq: seq, hash: hash)) else {
                    return fail(seq, "the signature is invalid")
                }
                report.signedCount += 1
                report.unsignedTail = 0
            } else {
                report.unsignedTail += 1
            }
            if let expectedHead, seq == expectedHead.seq {
                guard ConstantTime.equals(hash, expectedHead.hash) else {
                    return fail(seq, "differs from the head recorded earlier (history was rewritten)")
                }
                headSeen = true
            }
            previous = hash
            expected = seq + 1
            report.entryCount += 1
        }
        report.headSeq = expected - 1
        report.headHash = previous
        if !headSeen, let expectedHead {
            return fail(expected, "truncated: the head recorded earlier is entry \(expectedHead.seq) but the ledger ends at \(expected - 1)")
        }
        return report
    }
}

/// What `AuditVerifier` found.
public struct AuditVerificationReport: Sendable {
    public var entryCount = 0
    public var signedCount = 0
    /// Entries after the last signed one: written without a signing key (an
    /// auditor's own denials) or appended outside coffer. The next signed entry covers them.
    public var unsignedTail = 0
    public var headSeq: Int64 = 0
    public var headHash: [UInt8] = []
    public var keyFingerprint = ""
    public var failure: VerificationFailure?
    public var isValid: Bool { failure == nil }
    public var head: ExpectedHead { ExpectedHead(seq: headSeq, hash: headHash) }
}
