import CofferCrypto
import CofferFormats
package import CofferStore
import Foundation
import GRDB
import Synchronization

/// `coffer ingest --inbox`: opens the requests `coffer serve` sealed into the
/// inbox, in arrival order, and ingests their events through the normal
/// pipeline. The vault's cursor (the inbox's id and the last drained seq)
/// moves in the transaction that lands a request's events, so a crash
/// neither loses nor doubles a request; drained rows are deleted after.
package struct InboxDrain {
    let vault: Vault
    let ingestor: Ingestor
    let inbox: Inbox
    let key: X25519.PrivateKey

    /// What one drain did.
    package struct Report: Sendable {
        package var requests = 0
        package var ingest = IngestReport()
    }

    package init(vault: Vault, ingestor: Ingestor) throws {
        try vault.require(.ingest, for: .ingest, target: "inbox")
        guard let key = try vault.collectorPrivateKey() else {
            throw VaultError.invalidSource("this vault has no collector key yet: add a source with `coffer source add` first")
        }
        self.vault = vault
        self.ingestor = ingestor
        self.key = key
        inbox = try Inbox(layout: vault.layout)
    }

    /// Drains what waits now; `progress` after each transaction.
    ///
    /// Consecutive requests from one source share a transaction, up to the
    /// ingestor's batch size in events, as the records of a file do, and the
    /// cursor moves to the last of them in that transaction. Three threads
    /// overlap: one reads and opens requests and splits them into events, one
    /// checks the events, and this one resolves, encrypts and writes them.
    package func drain(progress: (Report) -> Void = { _ in }) throws -> Report {
        let start = try Self.cursor(of: inbox, in: vault)
        // Rows a crash left behind after their cursor moved: drained, so delete them.
        if start > 0 { try inbox.delete(through: start) }
        let (inbox, key, events) = (self.inbox, self.key, ingestor.batchSize)
        let inboxID = inbox.id
        let requestsAt = Mutex([Int64: Int]())
        var report = Report()
        var drained = start, lastDelete = ContinuousClock.now
        report.ingest = try ingestor.ingest(produce: { hand in
            try BatchQueue<Group>.pipeline(capacity: 2, produce: { groups in
                try Self.open(inbox, after: start, with: key, events: events, into: groups)
            }) { groups in
                while let group = try groups.take() {
                    let seq = group.lastSeq
                    requestsAt.withLock { $0[seq] = group.requests }
                    let batch = Ingestor.RecordBatch(records: group.records, file: "inbox:\(group.source)", bytes: group.bytes, mark: seq) { db in
                        try Self.setCursor(inboxID: inboxID, seq: seq, in: db)
                    }
                    guard hand(batch) else { return }
                }
            }
        }, committed: { seq, ingested in
            report.requests += requestsAt.withLock { $0.removeValue(forKey: seq) ?? 0 }
            report.ingest = ingested
            drained = seq
            // Deleting drained rows is a commit (an fsync) of its own on the writing
            // thread: every few seconds, and at the end, not after every batch.
            if ContinuousClock.now - lastDelete > .seconds(2) {
                try inbox.delete(through: seq)
                lastDelete = .now
            }
            progress(report)
        })
        if drained > start { try inbox.delete(through: drained) }
        return report
    }

    /// Reads the requests after `start` a page at a time, opens them and puts
    /// them, split into events, into `groups`, until none is left or the queue
    /// is cancelled.
    private static func open(_ inbox: Inbox, after start: Int64, with key: X25519.PrivateKey, events: Int,
                             into groups: BatchQueue<Group>) throws {
        var cursor = start
        var filling: Group?
        while true {
            let requests = try inbox.requests(after: cursor, limit: pageSize)
            guard let last = requests.last else { break }
            for request in requests {
                let envelope = try InboxEnvelope.open(request, with: key)
                let opened = Opened(seq: request.seq, source: envelope.source, records: records(of: envelope), bytes: envelope.body.count)
                if let full = filling, full.source != opened.source || full.records.count + opened.records.count > events {
                    guard groups.put(full) else { return }
                    filling = nil
                }
                if filling == nil { filling = Group(source: opened.source) }
                filling!.add(opened)
            }
            cursor = last.seq
        }
        if let filling { _ = groups.put(filling) }
    }

    /// Requests read from the inbox at a time: at most 64 MB of sealed bodies.
    static let pageSize = 128

    /// Requests that land in one transaction: consecutive, from one source, at
    /// most the ingestor's batch size in events (or one larger request).
    struct Group {
        var source: String
        var records: [SourceRecord] = []
        var requests = 0
        var lastSeq: Int64 = 0
        var bytes = 0

        /// Adds `request`'s events after these, numbered on (the quarantine names them by that number).
        mutating func add(_ request: Opened) {
            let offset = records.count
            records += request.records.map { record in
                var record = record
                record.line += offset
                return record
            }
            requests += 1
            lastSeq = request.seq
            bytes += request.bytes
        }
    }

    /// A request opened and split into its events.
    struct Opened: Sendable {
        var seq: Int64
        var source: String
        var records: [SourceRecord]
        var bytes: Int
    }

    /// The last drained seq of this inbox (0 for an inbox never drained, or a new file).
    static func cursor(of inbox: Inbox, in vault: Vault) throws -> Int64 {
        let stored = try vault.database.read { try Data.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'inbox_cursor'") }
        guard let stored, stored.count == 24, Array(stored.prefix(16)) == inbox.id else { return 0 }
        return stored.suffix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    static func setCursor(inboxID: [UInt8], seq: Int64, in db: Database) throws {
        let value = inboxID + withUnsafeBytes(of: seq.bigEndian) { Array($0) }
        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('inbox_cursor', ?)", arguments: [Data(value)])
    }

    /// The events of a request, as Segment's server makes them:
    /// - a batch's items, each with the batch's `context` and `integrations` under its own;
    /// - a single call's `type` from its endpoint when the body has none;
    /// - `timestamp` corrected for the sender's clock skew: received_at − (sentAt − timestamp);
    ///   no timestamp means the time it was received;
    /// - the source in `context.coffer_source`, and its kind as `context.channel` when it is an
    ///   engagement channel (web, app, email) and the event names none.
    static func records(of envelope: InboxEnvelope) -> [SourceRecord] {
        guard let body = (try? JSONReader.document(envelope.body))?.object else {
            return [SourceRecord(line: 1, byteOffset: 0, bytes: [], readError: "the request body is not a JSON object")]
        }
        var items: [JSONObject] = []
        var shared = JSONObject()
        if envelope.endpoint == "batch" || envelope.endpoint == "import" {
            guard case let .array(values)? = body["batch"] else {
                return [SourceRecord(line: 1, byteOffset: 0, bytes: [], readError: "a batch request without a batch array")]
            }
            items = values.compactMap(\.object)
            for key in ["context", "integrations", "sentAt"] { shared[key] = body[key] }
        } else {
            var item = body
            if item["type"] == nil { item["type"] = .string(envelope.endpoint) }
            items = [item]
        }
        let batchSentAt = shared["sentAt"]?.string.flatMap { Timestamp.parse($0) }
        return items.enumerated().map { index, item in
            var event = item
            event["writeKey"] = nil
            for key in ["context", "integrations"] {
                if let batchLevel = shared[key]?.object {
                    var merged = batchLevel
                    for member in event[key]?.object?.members ?? [] { merged[member.key] = member.value }
                    event[key] = .object(merged)
                }
            }
            var context = event["context"]?.object ?? JSONObject()
            context["coffer_source"] = .string(envelope.source)
            if context["channel"] == nil, [.web, .app, .email].contains(envelope.kind) {
                context["channel"] = .string(envelope.kind.rawValue)
            }
            event["context"] = .object(context)
            let sentAt = event["sentAt"] == nil ? batchSentAt : event["sentAt"]?.string.flatMap { Timestamp.parse($0) }
            if let text = event["timestamp"]?.string, let timestamp = Timestamp.parse(text) {
                if let sentAt { event["timestamp"] = .string(Timestamp.format(envelope.receivedAt - (sentAt - timestamp))) }
            } else if event["timestamp"] == nil {
                event["timestamp"] = .string(Timestamp.format(envelope.receivedAt))
            }
            var record = SourceRecord(line: index + 1, byteOffset: 0, bytes: [])
            record.object = event
            return record
        }
    }
}
