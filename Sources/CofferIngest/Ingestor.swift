import CofferCrypto
package import CofferPolicy
package import CofferStore
import Foundation
package import GRDB
import CofferFormats

/// Counts from one import.
package struct IngestReport: Sendable, Equatable {
    /// Records appended to the log.
    package var accepted = 0
    /// Records already in the vault (same messageId, or same content).
    package var duplicates = 0
    /// Records rejected into the quarantine.
    package var quarantined = 0
    /// Records dropped because they name an erased identifier on the suppression list.
    package var suppressed = 0
    /// Records already past the policy's retention for their kind (or in a
    /// month whose keys retention destroyed): not stored, as they could never be read.
    package var expired = 0
    /// Subjects created.
    package var subjectsCreated = 0
    /// Subjects merged into another.
    package var merges = 0
    /// Bytes of input read.
    package var bytes = 0
    /// Consent decisions recorded from the events' `categoryPreferences`.
    package var consents = 0
    /// Channel opt-outs recorded (unsubscribes, bounces, spam complaints).
    package var optOuts = 0
    /// Quarantine reasons and how often each occurred.
    package var reasons: [String: Int] = [:]
    /// Withdrawals of consent recorded (from `categoryPreferences` or a consent
    /// CSV): projections already built must lose these people at once
    /// (`ConsentEffects.apply`, above this module).
    package var withdrawals: [ConsentChange] = []
    /// Input bytes that belong to no record (e.g. text outside a JSON array):
    /// reported, and the import then fails.
    package var unattributed = UnattributedBytes()
    /// Event fields the policy puts in no class (denied to every role until it
    /// does), with how many events carried each.
    package var unclassifiedFields: [String: Int] = [:]

    package init() {}

    /// Adds another report's counts to this one.
    package mutating func add(_ other: IngestReport) {
        accepted += other.accepted
        duplicates += other.duplicates
        quarantined += other.quarantined
        suppressed += other.suppressed
        expired += other.expired
        subjectsCreated += other.subjectsCreated
        merges += other.merges
        consents += other.consents
        optOuts += other.optOuts
        bytes += other.bytes
        unattributed.add(other.unattributed)
        withdrawals += other.withdrawals
        reasons.merge(other.reasons, uniquingKeysWith: +)
        unclassifiedFields.merge(other.unclassifiedFields, uniquingKeysWith: +)
    }

    /// Records seen.
    package var records: Int { accepted + duplicates + quarantined + suppressed + expired }

    /// The counts, as an audit entry's reason.
    package var auditSummary: String {
        "accepted \(accepted), duplicate \(duplicates), quarantined \(quarantined), suppressed \(suppressed), "
            + (expired > 0 ? "past retention \(expired), " : "") + "merges \(merges), consents \(consents)"
            + (optOuts > 0 ? ", channel opt-outs \(optOuts)" : "")
    }
}

/// Progress of a running import, reported after each batch.
package struct IngestProgress: Sendable {
    package var bytesRead: Int
    package var totalBytes: Int
    package var report: IngestReport
}

/// Reads inputs, validates and normalises each record, resolves identities,
/// drops duplicates, quarantines what is bad, and appends the rest to the log.
///
/// Each batch commits in one transaction — events, identity links, dedup keys,
/// merges and quarantine together — so an interrupted import can simply be run
/// again: what landed is recognised as duplicate, the rest lands.
/// Memory is bounded by the batch size, not the input size.
package final class Ingestor {
    /// Records per transaction unless set otherwise: large enough that the
    /// random-key index pages each batch rewrites are shared by many records
    /// (2,000 gave 40 % less throughput at 1M events), small enough to bound memory.
    package static let defaultBatchSize = 10_000

    /// Records per transaction.
    package var batchSize = Ingestor.defaultBatchSize

    /// The time records are received at (ms since 1970): the wall clock, or
    /// a fixed time where a test or a replay needs retention decided as of then.
    package var clock: () -> Int64 = EventLog.now

    private let vault: Vault
    private let log: EventLog
    private let identities: IdentityGraph
    private let dedup: DedupIndex
    private let quarantine: QuarantineStore
    private let parser: SegmentParser
    private let consents: ConsentLedger
    private let consentDesk: ConsentDesk?
    private let policy: Policy?
    /// The fields the policy classifies, for events the parsing thread did not prepare.
    private var classification: FieldClassification

    /// - Parameter policy: turns Segment's `context.consent.categoryPreferences`
    ///   into consent decisions for the policy's consent-based purposes. Without
    ///   one, consent stays only inside the events.
    /// - Throws: `VaultError.notPermitted` unless the actor may ingest.
    package init(vault: Vault, policy: Policy? = nil) throws {
        try vault.require(.ingest, for: .ingest)
        // The suppression list decides what is dropped: it must be as the vault wrote it.
        try vault.verifySeals(["suppressions"])
        // A batch committed just before a kill, whose audit entry never made it, is recorded now.
        try vault.reconcilePendingAudit()
        self.vault = vault
        log = try vault.eventLog()
        identities = try vault.identityGraph()
        dedup = try vault.dedupIndex()
        quarantine = try vault.quarantine()
        consents = try vault.consentLedger()
        consentDesk = try policy.map { try ConsentDesk(vault: vault, policy: $0) }
        self.policy = policy
        classification = FieldClassification(policy: policy)
        parser = SegmentParser(declaredIdentifiers: (policy?.identifiers ?? []).compactMap { declared in
            IdentifierType(rawValue: declared.type).map { (declared.path, $0) }
        }, limits: NumericLimit.merged(with: policy?.numericLimits ?? [:]))
    }

    /// The format of `path`: from `explicit`, else its extension, else its first byte.
    package static func detectFormat(path: String, explicit: InputFormat?) throws -> InputFormat {
        if let explicit { return explicit }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "jsonl", "ndjson": return .jsonl
        case "json": return .json
        case "csv": return .csv
        default:
            let reader = try ChunkedFileReader(path: path, chunkSize: 4096)
            let first = try reader.next()?.first { ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].contains($0) }
            switch first {
            case UInt8(ascii: "["): return .json
            case UInt8(ascii: "{"): return .jsonl
            default: throw IngestError.unknownFormat(path: path)
            }
        }
    }

    /// Imports one file.
    ///
    /// A second thread reads, splits and parses the file while this one
    /// resolves identities, encrypts and writes: the two halves overlap, and
    /// at most two batches wait between them, so memory stays bounded.
    ///
    /// - Throws: `IngestError` when the file cannot be read at all; bad records
    ///   never throw, they are quarantined and counted.
    package func ingest(path: String, format: InputFormat? = nil, mapping: CSVMapping? = nil, mappingPath: String? = nil,
                       progress: (IngestProgress) -> Void = { _ in }) throws -> IngestReport {
        let format = try Self.detectFormat(path: path, explicit: format)
        let total = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let reader = try ChunkedFileReader(path: path)
        let source = RecordSource(file: path, format: format, mapping: mapping, mappingPath: mappingPath)
        // The reader and the parser stay with the reading thread; the queue hands
        // each batch over with the source (and CSV header) it was parsed with.
        let task = ReadTask(reader: reader, source: source, parser: parser, batchSize: batchSize, preparing: preparation())
        return try BatchQueue<ParsedBatch>.pipeline(capacity: 2, produce: task.read(into:)) { batches in
            var report = IngestReport()
            while let batch = try batches.take() {
                report.add(try process(parsed: batch.parsed, source: batch.source))
                progress(IngestProgress(bytesRead: batch.bytesRead, totalBytes: total, report: report))
            }
            report.bytes = batches.bytesRead
            report.unattributed = batches.unattributed
            progress(IngestProgress(bytesRead: report.bytes, totalBytes: total, report: report))
            return report
        }
    }

    /// What a parsing thread prepares events with (its own HMAC contexts); nil, should OpenSSL
    /// fail to copy them, leaves that work to the writer.
    private func preparation() -> EventPreparation? {
        (try? EventHasher(dedupIndex: dedup, identities: identities)).map { EventPreparation(hasher: $0, policy: policy) }
    }

    /// Reads, splits and parses one file into batches (on its own thread).
    /// A class, not a struct: the CSV reader's per-byte step called a closure that held the task,
    /// and a struct of this size was copied (every field retained and released) at each call,
    /// two-thirds of a CSV ingest's reading thread.
    private final class ReadTask: @unchecked Sendable {
        let reader: ChunkedFileReader
        let source: RecordSource
        let parser: SegmentParser
        let batchSize: Int
        /// Used by the reading thread only.
        let preparing: EventPreparation?

        init(reader: ChunkedFileReader, source: RecordSource, parser: SegmentParser, batchSize: Int, preparing: EventPreparation?) {
            self.reader = reader
            self.source = source
            self.parser = parser
            self.batchSize = batchSize
            self.preparing = preparing
        }

        /// Puts the file's batches into `queue`, then its totals.
        func read(into queue: BatchQueue<ParsedBatch>) throws {
            var source = self.source
            var pending: [SourceRecord] = []
            pending.reserveCapacity(batchSize)
            func add(_ record: SourceRecord) throws {
                pending.append(record)
                if pending.count >= batchSize { try flush() }
            }
            func flush() throws {
                let parsed = pending.map { Ingestor.parse($0, parser: parser, source: source, preparing: preparing) }
                pending.removeAll(keepingCapacity: true)
                guard queue.put(ParsedBatch(parsed: parsed, bytesRead: reader.bytesRead, source: source)) else { throw CancellationError() }
            }
            var unattributed = UnattributedBytes()
            switch source.format {
            case .jsonl:
                var splitter = LineSplitter()
                try split(&splitter, emit: add)
            case .json:
                var splitter = ArraySplitter()
                try split(&splitter, emit: add)
                unattributed = splitter.unattributed
            case .csv:
                guard let mapping = source.mapping else { throw IngestError.mappingRequired(path: source.file) }
                var splitter = CSVSplitter(delimiter: mapping.delimiterByte)
                // The header and the grouping live in a class the per-byte step's closure holds by
                // reference: a captured mapping (a struct) was copied at every byte.
                let rows = CSVRows(mapping: mapping, path: source.file)
                try split(&splitter) { record in
                    if let header = try rows.route(record, emit: add) { source.header = header }
                }
                try rows.finish(emit: add)
            }
            if !pending.isEmpty { try flush() }
            queue.finish(bytesRead: reader.bytesRead, unattributed: unattributed)
        }

        private func split<S: RecordSplitter>(_ splitter: inout S, emit: (SourceRecord) throws -> Void) throws {
            while let chunk = try reader.next() {
                try splitter.feed(chunk, emit: emit)
            }
            try splitter.finish(emit: emit)
        }

        /// A CSV file's records after its header: grouped into line items when the mapping says so.
        private final class CSVRows {
            let mapping: CSVMapping
            let path: String
            private var header: [String]?
            private var grouper: LineItemGrouper?

            init(mapping: CSVMapping, path: String) {
                self.mapping = mapping
                self.path = path
            }

            /// Passes `record` on (or holds it for its group); the first record is the header,
            /// which it returns instead.
            func route(_ record: SourceRecord, emit: (SourceRecord) throws -> Void) throws -> [String]? {
                guard header != nil else {
                    let names = try ReadTask.header(of: record, mapping: mapping, path: path)
                    header = names
                    if let lineItems = mapping.lineItems, let column = names.firstIndex(of: lineItems.groupBy) {
                        grouper = LineItemGrouper(column: column, delimiter: mapping.delimiterByte)
                    }
                    return names
                }
                if grouper != nil { try grouper!.add(record, emit: emit) } else { try emit(record) }
                return nil
            }

            /// Passes on the last group; a file without even a header is refused.
            func finish(emit: (SourceRecord) throws -> Void) throws {
                try grouper?.finish(emit: emit)
                if header == nil { throw IngestError.emptyCSV(path: path) }
            }
        }

        /// The CSV header's column names, checked against the mapping.
        fileprivate static func header(of record: SourceRecord, mapping: CSVMapping, path: String) throws -> [String] {
            var bytes = record.bytes
            if bytes.starts(with: [0xef, 0xbb, 0xbf]) { bytes.removeFirst(3) }
            guard let names = CSVFields.split(bytes, delimiter: mapping.delimiterByte) else {
                throw IngestError.emptyCSV(path: path)
            }
            let trimmed = names.map { $0.trimmedWhitespace }
            let missing = mapping.columns.subtracting(trimmed).sorted()
            guard missing.isEmpty else { throw IngestError.missingColumns(path: path, columns: missing) }
            return trimmed
        }
    }

    /// Where a batch of records came from, for parsing and for the quarantine.
    /// A value: each batch carries the one it was parsed with (the CSV header
    /// included) from the reading thread to the writing one.
    struct RecordSource: Sendable {
        let file: String
        let format: InputFormat
        let mapping: CSVMapping?
        let mappingPath: String?
        var header: [String] = []
        /// The mapping's zone, resolved once for the file (an IANA zone is looked up by name).
        let zone: LocalZone

        init(file: String, format: InputFormat, mapping: CSVMapping?, mappingPath: String?) {
            self.file = file
            self.format = format
            self.mapping = mapping
            self.mappingPath = mappingPath
            zone = mapping?.zone ?? .fixed(minutes: 0)
        }
    }

    /// Imports records already in memory (the demo generator, retries, the collector).
    /// `lastly` runs inside the transaction of the last batch (the inbox drain moves its cursor there).
    package func ingest(records: [SourceRecord], file: String, format: InputFormat, mapping: CSVMapping? = nil,
                       header: [String] = [], lastly: ((Database) throws -> Void)? = nil) throws -> IngestReport {
        var source = RecordSource(file: file, format: format, mapping: mapping, mappingPath: nil)
        source.header = header
        var report = IngestReport()
        var start = 0
        repeat {
            let end = min(start + batchSize, records.count)
            let parsed = records[start..<end].map { Self.parse($0, parser: parser, source: source) }
            report.add(try process(parsed: parsed, source: source, lastly: end == records.count ? lastly : nil))
            start = end
        } while start < records.count
        report.bytes = records.reduce(0) { $0 + $1.bytes.count }
        return report
    }

    /// Records a producer hands over: one transaction's worth, from one place.
    package struct RecordBatch: Sendable {
        package var records: [SourceRecord]
        /// Where they came from, as the quarantine and the audit name it (`inbox:SOURCE`).
        package var file: String
        /// Runs last inside the batch's transaction.
        package var lastly: @Sendable (Database) throws -> Void
        /// Handed back to `committed` once the transaction is on disk.
        package var mark: Int64
        /// The input bytes they came from (for the report).
        package var bytes: Int

        package init(records: [SourceRecord], file: String, bytes: Int, mark: Int64, lastly: @escaping @Sendable (Database) throws -> Void) {
            self.records = records
            self.file = file
            self.bytes = bytes
            self.mark = mark
            self.lastly = lastly
        }
    }

    /// Imports the JSON records `produce` hands over, as a file's are: the producer runs on a
    /// second thread and its batches are parsed there, while this thread resolves, encrypts and
    /// writes, one transaction per batch with the batch's `lastly`; at most two batches wait.
    /// `produce` gets a function to hand each batch to, which returns false once it should stop.
    /// - Throws: what `produce` threw, after the batches it handed over before.
    package func ingest(produce: @escaping @Sendable (_ hand: (RecordBatch) -> Bool) throws -> Void,
                        committed: (_ mark: Int64, _ report: IngestReport) throws -> Void) throws -> IngestReport {
        let parser = self.parser
        let preparing = preparation()
        return try BatchQueue<ParsedBatch>.pipeline(capacity: 2, produce: { batches in
            try produce { batch in
                let source = RecordSource(file: batch.file, format: .jsonl, mapping: nil, mappingPath: nil)
                let parsed = batch.records.map { Self.parse($0, parser: parser, source: source, preparing: preparing) }
                return batches.put(ParsedBatch(parsed: parsed, bytesRead: batch.bytes, source: source, lastly: batch.lastly, mark: batch.mark))
            }
        }) { batches in
            var report = IngestReport()
            while let batch = try batches.take() {
                var done = try process(parsed: batch.parsed, source: batch.source, lastly: batch.lastly)
                done.bytes = batch.bytesRead
                report.add(done)
                try committed(batch.mark, report)
            }
            return report
        }
    }

    enum Parsed {
        case event(SourceRecord, SegmentEvent)
        case rejected(SourceRecord, String)
    }

    /// Parses one record; with `preparing`, also works out what the writer needs of an event (`EventPreparation`).
    static func parse(_ record: SourceRecord, parser: SegmentParser, source: RecordSource, preparing: EventPreparation? = nil) -> Parsed {
        let parsed = read(record, parser: parser, source: source)
        guard let preparing, case .event(let record, var event) = parsed else { return parsed }
        preparing.prepare(&event)
        return .event(record, event)
    }

    private static func read(_ record: SourceRecord, parser: SegmentParser, source: RecordSource) -> Parsed {
        if let readError = record.readError { return .rejected(record, readError) }
        switch source.format {
        case .jsonl, .json:
            if let object = record.object {
                // Read already (the inbox drain), and held to 32 KB by the collector. Its bytes
                // are written only when it is refused, for the quarantine.
                switch parser.normalise(object) {
                case let .success(event): return .event(record, event)
                case let .failure(rejection):
                    var refused = SourceRecord(line: record.line, byteOffset: record.byteOffset, bytes: CanonicalJSON.data(.object(object)))
                    refused.readError = record.readError
                    return .rejected(refused, rejection.reason)
                }
            }
            switch parser.parse(record.bytes) {
            case let .success(event): return .event(record, event)
            case let .failure(rejection): return .rejected(record, rejection.reason)
            }
        case .csv:
            guard let mapping = source.mapping else { return .rejected(record, "no mapping for CSV") }
            guard record.bytes.count <= SegmentParser.maxEventBytes else {
                return .rejected(record, "event larger than 32 KB")
            }
            // A line-item file's record is a cart: its rows, one a line (`LineItemGrouper`); any other, one row.
            let split = mapping.lineItems != nil
                ? LineItemGrouper.rows(of: record.bytes, delimiter: mapping.delimiterByte)
                : CSVFields.split(record.bytes, delimiter: mapping.delimiterByte).map { [$0] }
            guard let rows = split else { return .rejected(record, "malformed CSV quoting") }
            if let short = rows.first(where: { $0.count != source.header.count }) {
                return .rejected(record, "wrong number of columns: \(short.count), the header has \(source.header.count)")
            }
            let named = rows.map { Dictionary(zip(source.header, $0), uniquingKeysWith: { first, _ in first }) }
            let event = mapping.lineItems != nil ? mapping.event(fromLineItems: named, zone: source.zone)
                                                 : mapping.event(from: named[0], zone: source.zone)
            switch event.flatMap({ parser.normalise($0) }) {
            case let .success(event): return .event(record, event)
            case let .failure(rejection): return .rejected(record, rejection.reason)
            }
        }
    }

    /// One batch, one transaction.
    private func process(_ records: [SourceRecord], source: RecordSource) throws -> IngestReport {
        try process(parsed: records.map { Self.parse($0, parser: parser, source: source) }, source: source)
    }

    /// What `retryQuarantine` did.
    package struct RetryReport: Sendable, Equatable {
        /// Records that now pass and were ingested (or recognised as duplicates).
        package var released = 0
        /// Records that still fail, left in quarantine.
        package var stillRejected = 0
        package var ingest = IngestReport()
    }

    /// Re-checks every quarantined record with the current rules (and, for CSV,
    /// the mapping file as it is now). Records that pass are ingested and leave
    /// the quarantine in the same transaction; the others stay, untouched.
    package func retryQuarantine() throws -> RetryReport {
        let records = try vault.database.read { try quarantine.all(in: $0) }
        var result = RetryReport()
        var mappings: [String: CSVMapping] = [:]
        var consentImporter: ConsentImporter?
        for record in records {
            if record.format == "consent-csv" {
                // Consent rows go back through the consent importer (it needs the policy's purposes).
                guard let policy else {
                    result.stillRejected += 1
                    continue
                }
                consentImporter = try consentImporter ?? ConsentImporter(vault: vault, policy: policy)
                let (released, report) = try consentImporter!.retry(record)
                if released {
                    result.released += 1
                    result.ingest.add(report)
                } else {
                    result.stillRejected += 1
                }
                continue
            }
            let format = InputFormat(rawValue: record.format) ?? .jsonl
            var mapping: CSVMapping?
            if format == .csv, let path = record.context["mapping"] {
                mapping = mappings[path] ?? (try? CSVMapping.load(path: path))
                mappings[path] = mapping
            }
            var source = RecordSource(file: record.file, format: format, mapping: mapping, mappingPath: record.context["mapping"])
            source.header = record.context["header"]?.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) ?? []
            let parsed = Self.parse(SourceRecord(line: record.line, byteOffset: record.byteOffset, bytes: record.record),
                                    parser: parser, source: source)
            guard case .event = parsed else {
                result.stillRejected += 1
                continue
            }
            result.ingest.add(try process(parsed: [parsed], source: source, releasing: record.id))
            result.released += 1
        }
        return result
    }

    private func process(parsed: [Parsed], source: RecordSource, releasing quarantineID: Int64? = nil,
                         lastly: ((Database) throws -> Void)? = nil) throws -> IngestReport {
        let now = clock()
        var context: [String: String] = [:]
        if source.format == .csv {
            context["header"] = source.header.joined(separator: "\u{1F}")
            if let mappingPath = source.mappingPath { context["mapping"] = mappingPath }
        }
        let auditTarget = "file:\(URL(fileURLWithPath: source.file).lastPathComponent)"
        let report: IngestReport, lastSeq: Int64
        do {
            (report, lastSeq) = try vault.database.write { db in
                var report = IngestReport()
                var events: [NewEvent] = []
                var merges: [(absorbed: SubjectID, survivor: SubjectID, index: Int)] = []
                var consentDecisions = ConsentBatch()
                var optOuts: [(ChannelOptOut, SubjectID, Int64, Int)] = []
                let suppressing = try Restrictions.suppressing(in: db)
                let destroyed = try Vault.destroyedEpochs(in: db)
                let cutoffs = policy.map { RetentionCutoffs(policy: $0, now: now) }
                for item in parsed {
                    switch item {
                    case let .rejected(record, reason):
                        // The same bad record imported again is not quarantined twice.
                        let rejectedKey = try dedup.key(messageID: nil, content: Self.rejectedContent(record), occurredAt: nil)
                        guard try quarantineID != nil || dedup.insert(rejectedKey, in: db) else {
                            report.duplicates += 1
                            continue
                        }
                        try quarantine.add(file: source.file, line: record.line, byteOffset: record.byteOffset,
                                           format: source.format.rawValue, reason: reason, record: record.bytes,
                                           context: context, at: now, in: db)
                        report.quarantined += 1
                        report.reasons[reason, default: 0] += 1
                    case let .event(_, event):
                        // An erased person's identifiers, when the policy suppresses them: dropped, nothing stored.
                        if suppressing, try identities.isSuppressed(event.identifiers, in: db) {
                            report.suppressed += 1
                            continue
                        }
                        // Past retention: never stored (it could never be read, and would only wait to be shredded).
                        let filed = KeyEpoch.filingTime(occurredAt: event.timestamp, recordedAt: now)
                        if cutoffs?.isExpired(event.kind, at: filed) == true
                            || (!destroyed.isEmpty && destroyed.contains(KeyEpoch.version(of: event.kind, filedAt: filed))) {
                            report.expired += 1
                            continue
                        }
                        let key = try event.prepared?.dedupKey
                            ?? dedup.key(messageID: event.messageID, content: event.dedupContent, occurredAt: event.dedupTime)
                        guard try dedup.insert(key, in: db) else {
                            report.duplicates += 1
                            continue
                        }
                        var identifiers = event.identifiers
                        var tokens = event.prepared?.tokens
                        if let previous = event.previousID, let identifier = try previousIdentifier(previous, in: db) {
                            identifiers.append(identifier)
                            tokens?.append(try identities.token(identifier))
                        }
                        let resolution = try identities.resolve(identifiers, tokens: tokens, at: event.timestamp, in: db)
                        if resolution.created { report.subjectsCreated += 1 }
                        for absorbed in resolution.absorbed {
                            let payload = try CanonicalJSON.data([
                                "type": "merge", "absorbed": absorbed.hex, "survivor": resolution.subject.hex,
                                "reason": event.kind == .alias ? "alias" : "shared identifier",
                                "timestamp": Timestamp.format(event.timestamp),
                            ])
                            merges.append((absorbed, resolution.subject, events.count))
                            events.append(NewEvent(subject: resolution.subject, kind: .merge, payload: payload, recordedAt: now))
                            try consents.merge(absorbed: absorbed, into: resolution.subject, in: db)
                            try ChannelOptOuts.merge(absorbed: absorbed, into: resolution.subject, in: db)
                            report.merges += 1
                        }
                        if let optOut = event.channelOptOut { optOuts.append((optOut, resolution.subject, event.timestamp, events.count)) }
                        events.append(NewEvent(subject: resolution.subject, kind: event.kind, payload: event.payload, recordedAt: now,
                                               occurredAt: event.timestamp))
                        report.accepted += 1
                        for name in event.prepared?.unclassified ?? classification.unclassified(event.fieldNames) {
                            report.unclassifiedFields[name, default: 0] += 1
                        }
                        for record in try consentChanges(event, subject: resolution.subject, batch: &consentDecisions, in: db) {
                            consentDecisions.appended.append((record, resolution.subject, events.count))
                            events.append(NewEvent(subject: resolution.subject, kind: .consent, payload: try record.payload(), recordedAt: now))
                            report.consents += 1
                        }
                    }
                }
                if let quarantineID { try quarantine.remove(id: quarantineID, in: db) }
                try lastly?(db)
                let receipt = try log.append(events, in: db)
                for merge in merges {
                    try identities.recordMerge(absorbed: merge.absorbed, survivor: merge.survivor,
                                               seq: receipt.firstSeq + Int64(merge.index), in: db)
                }
                for (optOut, subject, time, index) in optOuts {
                    try ChannelOptOuts.record(optOut, subject: subject, at: time, seq: receipt.firstSeq + Int64(index), in: db)
                    report.optOuts += 1
                }
                for (record, subject, index) in consentDecisions.appended {
                    try consents.applied(record, subject: subject, seq: receipt.firstSeq + Int64(index), in: db)
                    if record.status != .granted { report.withdrawals.append(ConsentChange(subject: subject, purpose: record.purpose)) }
                }
                try vault.notePendingIngestAudit(target: auditTarget, rows: report.accepted, reason: report.auditSummary,
                                                 through: receipt.lastSeq, in: db)
                return (report, receipt.lastSeq)
            }
        } catch {
            throw VaultError.storage(operation: "ingesting a batch", error: error, path: vault.layout.database.path)
        }
        try vault.audit(.ingest, target: auditTarget, rows: report.accepted,
                        reason: report.auditSummary + LogCoverage.reasonSuffix(lastSeq: lastSeq))
        return report
    }

    /// What identifies a rejected record for dedup: its kept bytes and, for a
    /// record cut at the size limit, its full length.
    static func rejectedContent(_ record: SourceRecord) -> [UInt8] {
        let prefix = record.length == record.bytes.count ? "rejected:" : "rejected:\(record.length):"
        return Array(prefix.utf8) + record.bytes
    }

    /// Consent decisions a batch has made but not yet written to the current-state table.
    private struct ConsentBatch {
        var latest: [SubjectID: [String: (status: ConsentStatus, at: Int64)]] = [:]
        var appended: [(ConsentRecord, SubjectID, Int)] = []
    }

    /// The consent records an event's `categoryPreferences` add: one per
    /// consent-based purpose whose decision differs from the one on record
    /// (repeating the same preferences on every event records nothing new).
    private func consentChanges(_ event: SegmentEvent, subject: SubjectID, batch: inout ConsentBatch,
                                in db: Database) throws -> [ConsentRecord] {
        guard let desk = consentDesk, !event.consentPreferences.isEmpty else { return [] }
        var stored: [String: ConsentStatus]?
        var records: [ConsentRecord] = []
        for (category, granted) in event.consentPreferences.sorted(by: { $0.key < $1.key }) {
            for purpose in desk.policy.purposes(forConsentCategory: category) where purpose.needsConsent {
                let status: ConsentStatus = granted ? .granted : .withdrawn
                if records.contains(where: { $0.purpose == purpose.name }) { continue }
                let known: ConsentStatus?
                if let pending = batch.latest[subject]?[purpose.name] {
                    guard event.timestamp >= pending.at else { continue }
                    known = pending.status
                } else {
                    if stored == nil { stored = try consents.current(of: subject, in: db) }
                    known = stored?[purpose.name]
                }
                guard known != status else { continue }
                let source = event.consentEvidence["form"].map { "segment:\($0)" } ?? "segment"
                let record = try desk.makeRecord(purpose: purpose.name, status: status, effectiveAt: event.timestamp,
                                                 source: source, evidence: event.consentEvidence.filter { $0.key != "form" })
                records.append(record)
                batch.latest[subject, default: [:]][purpose.name] = (status, event.timestamp)
            }
        }
        return records
    }

    /// Segment's `previousId` may be an earlier userId or anonymousId: use whichever is known,
    /// else treat it as an anonymous id. (The parser has already refused ids that cannot be identifiers.)
    private func previousIdentifier(_ previous: String, in db: Database) throws -> Identifier? {
        if let asUser = Identifier(type: .userID, raw: previous), try identities.subject(for: asUser, in: db) != nil {
            return asUser
        }
        return Identifier(type: .anonymousID, raw: previous)
    }
}
