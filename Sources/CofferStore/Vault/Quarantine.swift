import CofferCrypto
import Foundation
package import GRDB

/// A rejected input record: where it came from, why, and (decrypted) what it was.
public struct QuarantinedRecord: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Int64
    public var file: String
    public var line: Int
    public var byteOffset: Int
    public var format: String
    public var reason: String
    /// The raw record as read.
    public var record: [UInt8]
    /// For CSV: the header row and the mapping file used, so a retry can re-read the row.
    public var context: [String: String]
}

/// Encrypted storage for rejected input. The reason, position and format are
/// in clear (they never contain input values); the file name and the record
/// itself are AES-256-GCM encrypted under the quarantine key.
public final class QuarantineStore {
    private let key: SymmetricKey
    private let cipher: AESGCMContext
    private let aad = Array("coffer/v1/quarantine".utf8)

    init(keys: VaultKeys) throws {
        key = keys.quarantine
        cipher = try AESGCMContext()
    }

    private struct Sealed: Codable {
        var file: String
        var record: String   // base64
        var context: [String: String]
    }

    /// Stores a rejected record.
    package func add(file: String, line: Int, byteOffset: Int, format: String, reason: String, record: [UInt8],
                    context: [String: String] = [:], at time: Int64, in db: Database) throws {
        var plain = try JSONEncoder().encode(Sealed(file: file, record: Data(record).base64EncodedString(), context: context))
        defer { plain.resetBytes(in: 0..<plain.count) }
        let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
        let sealed = try cipher.seal(Array(plain), key: key, nonce: nonce, authenticating: aad)
        try db.execute(sql: """
            INSERT INTO quarantine(received_at, line, byte_offset, format, reason, nonce, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [time, line, byteOffset, format, reason, Data(nonce), Data(sealed)])
    }

    /// Every quarantined record, oldest first, decrypted.
    package func all(in db: Database) throws -> [QuarantinedRecord] {
        try Row.fetchAll(db, sql: "SELECT id, received_at, line, byte_offset, format, reason, nonce, ciphertext FROM quarantine ORDER BY id")
            .map { row in
                let nonce: Data = row[6], sealed: Data = row[7]
                let plain = try cipher.open(Array(sealed), key: key, nonce: Array(nonce), authenticating: aad)
                let decoded = try JSONDecoder().decode(Sealed.self, from: Data(plain))
                return QuarantinedRecord(id: row[0], receivedAt: row[1], file: decoded.file, line: row[2], byteOffset: row[3],
                                         format: row[4], reason: row[5], record: Array(Data(base64Encoded: decoded.record) ?? Data()),
                                         context: decoded.context)
            }
    }

    /// Number of quarantined records.
    package func count(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM quarantine") ?? 0
    }

    /// Removes a record (after a successful retry). `secure_delete` overwrites it.
    package func remove(id: Int64, in db: Database) throws {
        try db.execute(sql: "DELETE FROM quarantine WHERE id = ?", arguments: [id])
    }
}

extension Vault {
    /// Every quarantined record, decrypted (they may hold personal data): needs
    /// `read-subjects`, and the read is audited.
    public func quarantinedRecords() throws -> [QuarantinedRecord] {
        try require(.readSubjects, for: .quarantineList)
        let store = try quarantine()
        let records = try database.read { try store.all(in: $0) }
        try audit(.quarantineList, rows: records.count)
        return records
    }
}
