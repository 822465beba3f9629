public import CofferCrypto
import Foundation
import GRDB
import CofferFormats

/// The first thing found wrong with a vault's event log.
public struct VerificationFailure: Sendable, Equatable, CustomStringConvertible {
    /// The first sequence number that is bad (missing, altered, unsigned…).
    public var seq: Int64
    /// What is wrong, in words an operator can act on.
    public var reason: String
    /// The pinned key is not the one the file names: a wrong key file, or a
    /// replaced key; not, as such, a damaged chain.
    public var isKeyMismatch = false

    public init(seq: Int64, reason: String, isKeyMismatch: Bool = false) {
        self.seq = seq
        self.reason = reason
        self.isKeyMismatch = isKeyMismatch
    }

    /// The failure for a pinned key that is not the file's.
    static func keyMismatch(pinned: Ed25519.PublicKey, stored: Ed25519.PublicKey, what: String, export: String) throws -> VerificationFailure {
        VerificationFailure(seq: 0, reason: "the pinned key \(try pinned.fingerprint()) is not the \(what) key \(try stored.fingerprint()) "
            + "this file is signed with: pin this vault's key (`\(export)` writes it), or, if it is the right key, the file's key was replaced",
                            isKeyMismatch: true)
    }

    public var description: String { "event \(seq): \(reason)" }
}

/// The outcome of walking the chain and checking the checkpoint signatures.
public struct VerificationReport: Sendable {
    /// Events walked.
    public var eventCount: Int = 0
    /// Checkpoint signatures checked.
    public var checkpointCount: Int = 0
    /// Last sequence number and its chain hash.
    public var headSeq: Int64 = 0
    public var headHash: [UInt8] = []
    /// Fingerprint of the checkpoint public key used (`Ed25519.PublicKey.fingerprint`).
    public var keyFingerprint: String = ""
    /// `nil` when everything verified.
    public var failure: VerificationFailure?

    public var isValid: Bool { failure == nil }
}

/// A chain head an auditor kept, to detect truncation of the log to an earlier signed state.
public struct ExpectedHead: Sendable, Equatable {
    public var seq: Int64
    public var hash: [UInt8]

    public init(seq: Int64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    /// The text form `SEQ HASH-HEX`, as `coffer verify --write-head` writes it.
    public init?(text: String) {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard parts.count >= 2, let seq = Int64(parts[0]), let hash = [UInt8](hexString: String(parts[1])), hash.count == 32 else {
            return nil
        }
        self.init(seq: seq, hash: hash)
    }

    public var text: String { "\(seq) \(hash.hexString)\n" }
}

/// Verifies the event log without any secret key: recomputes every hash, checks
/// the links, the sequence, and every checkpoint's Ed25519 signature.
public enum LogVerifier {
    /// Walks the whole log. O(n) time, O(checkpoints) memory.
    ///
    /// - Parameters:
    ///   - pinnedKey: a checkpoint public key obtained out of band; when given,
    ///     the key stored in the vault must equal it.
    ///   - expectedHead: a head recorded earlier; the log must still contain it.
    ///   - progress: called every 100,000 events with the count so far.
    public static func verify(layout: VaultLayout, pinnedKey: Ed25519.PublicKey? = nil,
                              expectedHead: ExpectedHead? = nil,
                              progress: ((Int) -> Void)? = nil) throws -> VerificationReport {
        guard FileManager.default.fileExists(atPath: layout.database.path) else {
            throw VaultError.notInitialized(path: layout.directory.path)
        }
        let queue = try VaultDatabase.open(layout.database, readOnly: true)
        return try queue.read { db in
            try verify(db, pinnedKey: pinnedKey, expectedHead: expectedHead, progress: progress)
        }
    }

    static func verify(_ db: Database, pinnedKey: Ed25519.PublicKey?, expectedHead: ExpectedHead?,
                       progress: ((Int) -> Void)?) throws -> VerificationReport {
        var report = VerificationReport()
        guard let vaultID = try VaultMeta.get(db, VaultMeta.vaultID),
              let storedKeyBytes = try VaultMeta.get(db, VaultMeta.checkpointPublicKey),
              let storedKey = try? Ed25519.PublicKey(rawRepresentation: storedKeyBytes) else {
            report.failure = VerificationFailure(seq: 0, reason: "the vault has no vault id or checkpoint public key")
            return report
        }
        let key = pinnedKey ?? storedKey
        report.keyFingerprint = try key.fingerprint()
        if let pinnedKey, pinnedKey != storedKey {
            report.failure = try .keyMismatch(pinned: pinnedKey, stored: storedKey, what: "checkpoint", export: "coffer verify export-key")
            return report
        }

        var checkpoints: [Int64: (hash: [UInt8], signedAt: Int64, signature: [UInt8])] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT seq, hash, signed_at, signature FROM checkpoints") {
            let hash: Data = row[1], signature: Data = row[3]
            checkpoints[row[0]] = (Array(hash), row[2], Array(signature))
        }
        let lastCheckpoint = checkpoints.keys.max() ?? 0

        let sha = try SHA256()
        var previous = try LogChain.genesis(vaultID: vaultID)
        var expected: Int64 = 1
        var lastGoodCheckpoint: Int64 = 0
        var expectedHeadSeen = expectedHead == nil || expectedHead!.seq == 0
        let statement = RawStatement(try db.makeStatement(sql: """
            SELECT seq, recorded_at, subject_id, kind, key_version, nonce, ciphertext, prev_hash, hash
            FROM events ORDER BY seq
            """))
        // Each subject's positions, to check the subject index against the log after.
        var subjects: [[UInt8]: SubjectIndex.Digest] = [:]
        func fail(_ seq: Int64, _ reason: String) -> VerificationReport {
            report.failure = VerificationFailure(seq: seq, reason: reason)
            return report
        }
        while try statement.step("verifying the event log") {
            let seq = statement.int64(0)
            if seq != expected {
                return fail(expected, seq > expected
                    ? "missing: the log jumps from event \(expected - 1) to \(seq) (rows deleted)"
                    : "sequence out of order")
            }
            let row = LogChain.Row(seq: seq, recordedAt: statement.int64(1), subjectID: statement.blob(2),
                                   kind: statement.text(3), keyVersion: UInt32(truncatingIfNeeded: statement.int64(4)),
                                   nonce: statement.blob(5), ciphertext: statement.blob(6))
            let storedPrevious = statement.blob(7), storedHash = statement.blob(8)
            if !ConstantTime.equals(storedPrevious, previous) {
                return fail(seq, "does not link to event \(seq - 1) (rows reordered, replaced or deleted)")
            }
            let hash = try LogChain.hash(previous: previous, row: row, using: sha)
            if !ConstantTime.equals(hash, storedHash) {
                return fail(seq, "contents do not match the chain hash (a byte was altered)")
            }
            if let checkpoint = checkpoints[seq] {
                let message = LogChain.checkpointMessage(vaultID: vaultID, seq: seq, hash: checkpoint.hash,
                                                         signedAt: checkpoint.signedAt)
                if !key.isValidSignature(checkpoint.signature, for: message) {
                    return fail(seq, "the checkpoint signature at this event is invalid")
                }
                if !ConstantTime.equals(checkpoint.hash, hash) {
                    return fail(lastGoodCheckpoint + 1, "the signed checkpoint at event \(seq) does not match the chain: "
                        + "an event between \(lastGoodCheckpoint + 1) and \(seq) was altered and the chain rewritten")
                }
                report.checkpointCount += 1
                lastGoodCheckpoint = seq
            }
            if let expectedHead, seq == expectedHead.seq {
                if !ConstantTime.equals(hash, expectedHead.hash) {
                    return fail(seq, "differs from the head recorded earlier (history was rewritten)")
                }
                expectedHeadSeen = true
            }
            subjects[row.subjectID, default: SubjectIndex.Digest()].add(seq)
            previous = hash
            expected = seq + 1
            report.eventCount += 1
            if report.eventCount % 100_000 == 0 { progress?(report.eventCount) }
        }
        let lastSeq = expected - 1
        report.headSeq = lastSeq
        report.headHash = previous
        if lastCheckpoint > lastSeq {
            return fail(lastSeq + 1, "truncated: a checkpoint was signed at event \(lastCheckpoint) but the log ends at \(lastSeq)")
        }
        if lastSeq > lastGoodCheckpoint {
            return fail(lastGoodCheckpoint + 1, "events \(lastGoodCheckpoint + 1)…\(lastSeq) are not covered by a signed checkpoint "
                + "(appended outside coffer)")
        }
        if !expectedHeadSeen, let expectedHead {
            return fail(lastSeq + 1, "truncated: the head recorded earlier is event \(expectedHead.seq) but the log ends at \(lastSeq)")
        }
        if let mismatch = try SubjectIndex.mismatch(withLog: subjects, in: db) {
            return fail(lastSeq, mismatch)
        }
        return report
    }
}

extension Ed25519.PublicKey {
    /// How every command names a public key: the first 16 hex digits of the
    /// SHA-256 of its raw bytes.
    public func fingerprint() throws -> String {
        try SHA256.hash(rawRepresentation).prefix(8).hexString
    }
}
