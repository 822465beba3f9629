import CofferCrypto
import CofferFormats

/// The canonical byte forms that the event log hashes, signs and authenticates.
///
/// Changing any of these breaks every existing vault's verification.
public enum LogChain {
    /// The `prev_hash` of the first event: binds the chain to its vault.
    public static func genesis(vaultID: [UInt8]) throws -> [UInt8] {
        try SHA256.hash(Array("coffer/v1/genesis".utf8) + vaultID)
    }

    /// One stored row of the log, as the hash sees it.
    public struct Row: Sendable, Equatable {
        public var seq: Int64
        public var recordedAt: Int64
        public var subjectID: [UInt8]
        public var kind: String
        public var keyVersion: UInt32
        public var nonce: [UInt8]
        public var ciphertext: [UInt8]
    }

    /// `SHA-256(prev_hash ‖ seq ‖ recorded_at ‖ subject_id ‖ kind ‖ key_version ‖ nonce ‖ ciphertext)`
    /// with fixed-width big-endian integers and length-prefixed byte strings.
    static func hash(previous: [UInt8], row: Row, using sha: SHA256) throws -> [UInt8] {
        var header = [UInt8]()
        header.reserveCapacity(128)
        header.append(contentsOf: previous)
        header.appendBigEndian(UInt64(bitPattern: row.seq))
        header.appendBigEndian(row.recordedAt)
        header.appendLengthPrefixed(row.subjectID)
        header.appendLengthPrefixed(row.kind.utf8)
        header.appendBigEndian(row.keyVersion)
        header.appendLengthPrefixed(row.nonce)
        header.appendBigEndian(UInt32(row.ciphertext.count))
        try sha.reset()
        try sha.update(header)
        try sha.update(row.ciphertext)
        return try sha.finalize()
    }

    /// The message an Ed25519 checkpoint signature covers.
    static func checkpointMessage(vaultID: [UInt8], seq: Int64, hash: [UInt8], signedAt: Int64) -> [UInt8] {
        var message = Array("coffer/v1/checkpoint".utf8)
        message.appendLengthPrefixed(vaultID)
        message.appendBigEndian(UInt64(bitPattern: seq))
        message.appendLengthPrefixed(hash)
        message.appendBigEndian(signedAt)
        return message
    }

    /// Associated data for an event's AES-GCM encryption: a ciphertext moved to
    /// another vault, subject, key version or kind no longer decrypts.
    static func associatedData(vaultID: [UInt8], subjectID: [UInt8], keyVersion: UInt32, kind: String) -> [UInt8] {
        var aad = associatedDataPrefix(vaultID: vaultID)
        appendEventFields(to: &aad, subjectID: subjectID, keyVersion: keyVersion, kind: kind)
        return aad
    }

    /// The part of every event's associated data that only depends on the vault.
    static func associatedDataPrefix(vaultID: [UInt8]) -> [UInt8] {
        var aad: [UInt8] = []
        aad.reserveCapacity(64 + vaultID.count)
        aad.append(contentsOf: "coffer/v1/event".utf8)
        aad.appendLengthPrefixed(vaultID)
        return aad
    }

    /// Completes `associatedDataPrefix` for one event (a scan reuses one buffer for every event).
    static func appendEventFields(to aad: inout [UInt8], subjectID: some Collection<UInt8>, keyVersion: UInt32, kind: String) {
        aad.appendLengthPrefixed(subjectID)
        aad.appendBigEndian(keyVersion)
        aad.append(contentsOf: kind.utf8)
    }

    /// Context bound into a subject key's wrapping.
    static func subjectKeyContext(vaultID: [UInt8], subjectID: [UInt8], keyVersion: UInt32) -> [UInt8] {
        var context = Array("coffer/v1/subject-key".utf8)
        context.appendLengthPrefixed(vaultID)
        context.appendLengthPrefixed(subjectID)
        context.appendBigEndian(keyVersion)
        return context
    }

    /// Context bound into an epoch secret's wrapping.
    static func epochKeyContext(vaultID: [UInt8], keyVersion: UInt32) -> [UInt8] {
        var context = Array("coffer/v1/epoch-key".utf8)
        context.appendLengthPrefixed(vaultID)
        context.appendBigEndian(keyVersion)
        return context
    }

    /// The vault's part of the context an event key is derived with (from a
    /// subject's record key and an epoch secret); `appendEventKeyFields` adds the event's part.
    static func eventKeyPrefix(vaultID: [UInt8]) -> [UInt8] {
        var info = Array("coffer/v1/event-key".utf8)
        info.appendLengthPrefixed(vaultID)
        return info
    }

    /// The subject's and the version's part of an event key's context.
    static func appendEventKeyFields(to info: inout [UInt8], subjectID: some Collection<UInt8>, keyVersion: UInt32) {
        info.appendLengthPrefixed(subjectID)
        info.appendBigEndian(keyVersion)
    }
}
