import CofferCrypto
import CofferFormats
package import CofferStore
import Foundation
import GRDB

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

    /// Drains what waits now, a request per transaction; `progress` after each.
    package func drain(progress: (Report) -> Void = { _ in }) throws -> Report {
        var report = Report()
        var cursor = try Self.cursor(of: inbox, in: vault)
        while true {
            let requests = try inbox.requests(after: cursor, limit: 64)
            if requests.isEmpty { break }
            for request in requests {
                let envelope = try InboxEnvelope.open(request, with: key)
                let records = Self.records(of: envelope)
                let seq = request.seq, inboxID = inbox.id
                report.ingest.add(try ingestor.ingest(records: records, file: "inbox:\(envelope.source)", format: .jsonl) { db in
                    try Self.setCursor(inboxID: inboxID, seq: seq, in: db)
                })
                report.requests += 1
                cursor = seq
                progress(report)
            }
            try inbox.delete(through: cursor)
        }
        return report
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
            let sentAt = (event["sentAt"] ?? shared["sentAt"])?.string.flatMap { Timestamp.parse($0) }
            if let text = event["timestamp"]?.string, let timestamp = Timestamp.parse(text) {
                if let sentAt { event["timestamp"] = .string(Timestamp.format(envelope.receivedAt - (sentAt - timestamp))) }
            } else if event["timestamp"] == nil {
                event["timestamp"] = .string(Timestamp.format(envelope.receivedAt))
            }
            return SourceRecord(line: index + 1, byteOffset: 0, bytes: CanonicalJSON.data(.object(event)))
        }
    }
}
