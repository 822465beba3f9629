import CofferCrypto
public import Foundation
package import GRDB

extension AuditAction {
    /// `backup`: a consistent copy of every vault file.
    public static let backup = AuditAction(rawValue: "backup")
}

/// What `coffer backup` copied and checked.
public struct BackupReport: Sendable, Equatable {
    /// The backup directory.
    public var directory: String
    /// Files written, by name.
    public var files: [String]
    /// Events in the backup's log (its chain and checkpoints verified).
    public var events: Int
    /// Entries in the backup's audit ledger (chain and signatures verified).
    public var auditEntries: Int
}

/// The log must hold every batch the audit ledger says was ingested: a log that
/// ends earlier lost acknowledged events (e.g. `vault.sqlite` copied without
/// its `-wal`, or the WAL deleted after a crash).
public struct LogCoverage: Sendable, Equatable {
    /// The last log position the ledger records an ingest reaching.
    public var auditedThrough: Int64
    /// The log's last position.
    public var logHead: Int64

    public var isComplete: Bool { logHead >= auditedThrough }

    /// The text an ingest's audit reason carries: `log through seq N`.
    public static func reasonSuffix(lastSeq: Int64) -> String { "; log through seq \(lastSeq)" }

    static func seq(in reason: String) -> Int64? {
        guard let range = reason.range(of: "log through seq ", options: .backwards) else { return nil }
        return Int64(reason[range.upperBound...].prefix { $0.isNumber })
    }
}

/// The audit entry of the last ingest batch, written into the vault in the
/// batch's own transaction: a process killed between the commit and the audit
/// write leaves it, and the next import records the entry (`reconcilePendingAudit`).
struct PendingAudit: Codable {
    var target: String
    var rows: Int
    var reason: String
    var through: Int64

    static let metaKey = "pending_ingest_audit"

    static func associatedData(_ vaultID: [UInt8]) -> [UInt8] { Array("coffer/v1/pending-audit|".utf8) + vaultID }
}

extension Vault {
    /// Notes, inside a batch's transaction, the audit entry that will follow its commit.
    /// The entry is sealed (AES-256-GCM under the audit read key): its target names the input file.
    package func notePendingIngestAudit(target: String, rows: Int, reason: String, through: Int64, in db: Database) throws {
        let entry = PendingAudit(target: target, rows: rows, reason: reason + LogCoverage.reasonSuffix(lastSeq: through), through: through)
        let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
        let sealed = try AESGCM.seal(Array(try JSONEncoder().encode(entry)), key: keys().auditRead, nonce: nonce,
                                     authenticating: PendingAudit.associatedData(vaultID))
        try VaultMeta.set(db, PendingAudit.metaKey, nonce + sealed)
    }

    /// Writes the audit entry of the last batch if a kill kept it from the ledger.
    /// - Returns: whether one was written.
    @discardableResult
    public func reconcilePendingAudit() throws -> Bool {
        guard let raw = try database.read({ try VaultMeta.get($0, PendingAudit.metaKey) }), raw.count > AESGCM.nonceByteCount,
              let plain = try? AESGCM.open(Array(raw.dropFirst(AESGCM.nonceByteCount)), key: keys().auditRead,
                                           nonce: raw.prefix(AESGCM.nonceByteCount), authenticating: PendingAudit.associatedData(vaultID)),
              let pending = try? JSONDecoder().decode(PendingAudit.self, from: Data(plain)) else { return false }
        guard try logCoverage().auditedThrough < pending.through else { return false }
        try audit(.ingest, target: pending.target, rows: pending.rows,
                  reason: pending.reason + "; recorded at the next import, after an interruption")
        return true
    }

    /// The log's last position (0 when empty).
    public func logHead() throws -> Int64 {
        try database.read { try Int64.fetchOne($0, sql: "SELECT max(seq) FROM events") ?? 0 }
    }

    /// Compares the log's head with the ingests the audit ledger recorded.
    public func logCoverage() throws -> LogCoverage {
        let entries = try auditLedger().entries(action: .ingest)
        let audited = entries.compactMap { $0.details.reason.flatMap(LogCoverage.seq(in:)) }.max() ?? 0
        return LogCoverage(auditedThrough: audited, logHead: try logHead())
    }

    /// Writes a consistent online copy of every vault file into `destination`
    /// (a new or empty directory): the database and the audit ledger through
    /// `VACUUM INTO` (one snapshot each, WAL content included, no free pages),
    /// `keyslots.json` and the projection files; then verifies the copy's log
    /// chain and audit chain, and that its log is as long as the vault's.
    /// Needs the master key (owner or compliance); the backup is audited.
    public func backup(to destination: URL) throws -> BackupReport {
        _ = try keys()
        let fm = FileManager.default
        let target = VaultLayout(directory: destination)
        if fm.fileExists(atPath: destination.path) {
            let contents = (try? fm.contentsOfDirectory(atPath: destination.path)) ?? ["?"]
            guard contents.isEmpty else {
                throw VaultError.io(path: destination.path, detail: "the backup directory must be new or empty, so no older file is mixed in")
            }
        }
        do {
            try fm.createDirectory(at: destination, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: destination.path)
        } catch {
            throw VaultError.io(path: destination.path, detail: error.localizedDescription)
        }
        var files: [String] = []
        do {
            let head = try logHead()
            for (queue, url) in [(database, target.database), (try auditLedger().queue, target.auditDatabase)] {
                try queue.inDatabase { try $0.execute(sql: "VACUUM INTO ?", arguments: [url.path]) }
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
                files.append(url.lastPathComponent)
            }
            try AtomicFile.write(Data(contentsOf: layout.keyslots), to: target.keyslots)
            files.append(target.keyslots.lastPathComponent)
            if fm.fileExists(atPath: layout.projections.path) {
                try fm.createDirectory(at: target.projections, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                for name in try fm.contentsOfDirectory(atPath: layout.projections.path).sorted() where name.hasSuffix(".enc") {
                    let to = target.projections.appendingPathComponent(name)
                    try AtomicFile.write(Data(contentsOf: layout.projections.appendingPathComponent(name)), to: to)
                    files.append("projections/\(name)")
                }
            }
            let log = try LogVerifier.verify(layout: target)
            guard log.isValid else {
                throw VaultError.corruptFile(path: target.database.path, reason: "the copy does not verify: \(log.failure!)")
            }
            guard Int64(log.eventCount) >= head else {
                throw VaultError.corruptFile(path: target.database.path, reason: "the copy holds \(log.eventCount) events, the vault \(head)")
            }
            let ledger = try AuditVerifier.verify(layout: target)
            if let failure = ledger.failure {
                throw VaultError.corruptFile(path: target.auditDatabase.path, reason: "the copy does not verify: \(failure)")
            }
            try audit(.backup, target: "file:\(destination.lastPathComponent)", rows: log.eventCount)
            return BackupReport(directory: destination.path, files: files, events: log.eventCount, auditEntries: ledger.entryCount)
        } catch {
            // No half-written backup is left looking like a good one.
            for name in files { try? fm.removeItem(at: destination.appendingPathComponent(name)) }
            try? fm.removeItem(at: target.projections)
            throw error
        }
    }
}
