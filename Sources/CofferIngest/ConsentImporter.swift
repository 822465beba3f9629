import CofferCrypto
package import CofferPolicy
package import CofferStore
import Foundation
import GRDB
import CofferFormats

/// Imports consent decisions from CSV (e.g. a CRM or email-platform export).
///
/// Columns (header row required; the first three and `timestamp` are required):
/// `subject` (`email:…`, `phone:…`, `user:…`), `purpose`, `status`
/// (`granted`/`withdrawn`, also `true`/`false`, `yes`/`no`, `opt-in`/`opt-out`),
/// `timestamp` (ISO-8601 with zone), and optionally `expires`, `source`,
/// `notice_version`, `notice_sha256`.
///
/// Bad rows go to the quarantine with their line and reason; good rows land.
/// Importing the same file twice records nothing new.
package final class ConsentImporter {
    package static let requiredColumns = ["subject", "purpose", "status", "timestamp"]
    package static let optionalColumns = ["expires", "source", "notice_version", "notice_sha256"]

    private let vault: Vault
    private let desk: ConsentDesk
    private let graph: IdentityGraph
    private let ledger: ConsentLedger
    private let dedup: DedupIndex
    private let quarantine: QuarantineStore
    /// Rows per transaction.
    package var batchSize = 2000

    /// - Throws: `VaultError.notPermitted` unless the actor may record consent.
    package init(vault: Vault, policy: Policy) throws {
        try vault.require(.manageConsent, for: .ingest)
        // A batch committed just before a kill, whose audit entry never made it, is recorded now.
        try vault.reconcilePendingAudit()
        self.vault = vault
        desk = try ConsentDesk(vault: vault, policy: policy)
        graph = try vault.identityGraph()
        ledger = try vault.consentLedger()
        dedup = try vault.dedupIndex()
        quarantine = try vault.quarantine()
    }

    /// Imports `path`; `accepted` counts decisions recorded.
    /// - Throws: `IngestError` when the file cannot be read or lacks required columns.
    package func importCSV(path: String) throws -> IngestReport {
        let reader = try ChunkedFileReader(path: path)
        var splitter = CSVSplitter()
        var header: [String]?
        var pending: [SourceRecord] = []
        var report = IngestReport()
        let emit: (SourceRecord) throws -> Void = { record in
            guard let names = header else {
                var bytes = record.bytes
                if bytes.starts(with: [0xef, 0xbb, 0xbf]) { bytes.removeFirst(3) }
                guard let names = CSVFields.split(bytes) else { throw IngestError.emptyCSV(path: path) }
                let trimmed = names.map { $0.trimmedWhitespace.lowercased() }
                let missing = Self.requiredColumns.filter { !trimmed.contains($0) }
                guard missing.isEmpty else { throw IngestError.missingColumns(path: path, columns: missing) }
                header = trimmed
                return
            }
            pending.append(record)
            if pending.count >= self.batchSize {
                report.add(try self.process(pending, header: names, file: path))
                pending.removeAll(keepingCapacity: true)
            }
        }
        while let chunk = try reader.next() { try splitter.feed(chunk, emit: emit) }
        try splitter.finish(emit: emit)
        guard let names = header else { throw IngestError.emptyCSV(path: path) }
        if !pending.isEmpty { report.add(try process(pending, header: names, file: path)) }
        report.bytes = reader.bytesRead
        return report
    }

    static let statusWords: [String: ConsentStatus] = [
        "granted": .granted, "grant": .granted, "true": .granted, "yes": .granted, "opt-in": .granted, "1": .granted,
        "withdrawn": .withdrawn, "revoked": .withdrawn, "false": .withdrawn, "no": .withdrawn, "opt-out": .withdrawn, "0": .withdrawn,
    ]

    /// One row into an identifier and a record, or the reason it cannot be.
    func parse(_ record: SourceRecord, header: [String], file: String) -> Result<(Identifier, ConsentRecord), Rejection> {
        if let readError = record.readError { return .failure(Rejection(readError)) }
        guard let fields = CSVFields.split(record.bytes) else { return .failure(Rejection("malformed CSV quoting")) }
        guard fields.count == header.count else {
            return .failure(Rejection("wrong number of columns: \(fields.count), the header has \(header.count)"))
        }
        let row = Dictionary(zip(header, fields.map(\.trimmedWhitespace)), uniquingKeysWith: { first, _ in first })
        guard let subject = row["subject"], let identifier = Identifier(argument: subject, declaredTypes: desk.policy.declaredIdentifierTypes) else {
            return .failure(Rejection("bad subject: expected TYPE:VALUE with TYPE email, phone, user, anon or loyalty"))
        }
        guard let status = Self.statusWords[(row["status"] ?? "").lowercased()] else {
            return .failure(Rejection("bad status: expected granted or withdrawn"))
        }
        guard let time = row["timestamp"].flatMap({ Timestamp.parse($0) }) else {
            return .failure(Rejection("bad timestamp: not ISO-8601 with a time zone"))
        }
        var expires: Int64?
        if let text = row["expires"], !text.isEmpty {
            guard let value = Timestamp.parse(text) else { return .failure(Rejection("bad expires: not ISO-8601 with a time zone")) }
            expires = value
        }
        var evidence: [String: String] = [:]
        if let version = row["notice_version"], !version.isEmpty { evidence["noticeVersion"] = version }
        if let hash = row["notice_sha256"], !hash.isEmpty { evidence["noticeSHA256"] = hash }
        let source = row["source"].flatMap { $0.isEmpty ? nil : "csv:\($0)" } ?? "csv:\(URL(fileURLWithPath: file).lastPathComponent)"
        do {
            let consent = try desk.makeRecord(purpose: row["purpose"] ?? "", status: status, effectiveAt: time, source: source,
                                              expiresAt: expires, evidence: evidence)
            return .success((identifier, consent))
        } catch let error as ConsentError {
            return .failure(Rejection(error.reasonWithoutInput))
        } catch {
            return .failure(Rejection("the consent record could not be made"))
        }
    }

    /// Re-checks one quarantined consent row (e.g. after the policy declared
    /// its purpose): recorded, and released from the quarantine in the same
    /// transaction, if it now passes. - Returns: whether it was released.
    package func retry(_ record: QuarantinedRecord) throws -> (released: Bool, report: IngestReport) {
        let header = record.context["header"]?.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) ?? []
        let source = SourceRecord(line: record.line, byteOffset: record.byteOffset, bytes: record.record)
        guard case .success = parse(source, header: header, file: record.file) else { return (false, IngestReport()) }
        return (true, try process([source], header: header, file: record.file, releasing: record.id))
    }

    private func process(_ records: [SourceRecord], header: [String], file: String, releasing quarantineID: Int64? = nil) throws -> IngestReport {
        let parsed = records.map { ($0, parse($0, header: header, file: file)) }
        let now = EventLog.now()
        let target = "file:\(URL(fileURLWithPath: file).lastPathComponent)"
        let report: IngestReport, lastSeq: Int64
        do {
            (report, lastSeq) = try vault.database.write { db in
                var report = IngestReport()
                var decisions: [(ConsentRecord, SubjectID)] = []
                for (record, result) in parsed {
                    // A released row was keyed when it was quarantined: not a duplicate of itself.
                    let isNew = try dedup.insert(dedup.key(messageID: nil, content: Array("consent-csv:".utf8) + record.bytes, occurredAt: nil), in: db)
                    guard isNew || quarantineID != nil else {
                        report.duplicates += 1
                        continue
                    }
                    switch result {
                    case let .failure(rejection):
                        try quarantine.add(file: file, line: record.line, byteOffset: record.byteOffset, format: "consent-csv",
                                           reason: rejection.reason, record: record.bytes,
                                           context: ["header": header.joined(separator: "\u{1F}")], at: now, in: db)
                        report.quarantined += 1
                        report.reasons[rejection.reason, default: 0] += 1
                    case let .success((identifier, consent)):
                        let resolution = try graph.resolve([identifier], at: consent.effectiveAt, in: db)
                        if resolution.created { report.subjectsCreated += 1 }
                        decisions.append((consent, resolution.subject))
                        report.accepted += 1
                    }
                }
                if let quarantineID { try quarantine.remove(id: quarantineID, in: db) }
                // One append (and one signed checkpoint) per batch, then the current-state table.
                let events = try decisions.map { NewEvent(subject: $0.1, kind: .consent, payload: try $0.0.payload(), recordedAt: now) }
                let receipt = try vault.eventLog().append(events, in: db)
                for (index, (consent, subject)) in decisions.enumerated() {
                    try ledger.applied(consent, subject: subject, seq: receipt.firstSeq + Int64(index), in: db)
                    if consent.status != .granted { report.withdrawals.append(ConsentChange(subject: subject, purpose: consent.purpose)) }
                }
                report.consents = decisions.count
                try vault.notePendingIngestAudit(target: target, rows: report.accepted, reason: "consent import: " + report.auditSummary,
                                                 through: receipt.lastSeq, in: db)
                return (report, receipt.lastSeq)
            }
        } catch {
            throw VaultError.storage(operation: "importing consent", error: error, path: vault.layout.database.path)
        }
        try vault.audit(.ingest, target: target, rows: report.accepted,
                        reason: "consent import: " + report.auditSummary + LogCoverage.reasonSuffix(lastSeq: lastSeq))
        return report
    }
}
