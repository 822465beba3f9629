package import CofferCrypto
import CofferPolicy
import CofferProjection
package import CofferStore
package import Foundation
import GRDB
import ZIPFoundation
import CofferFormats

/// What `request export` wrote.
package struct ExportResult: Sendable {
    package var record: RequestRecord
    package var path: String
    /// Files in the bundle, with their sizes.
    package var files: [(name: String, bytes: Int)]
    package var events: Int
    /// `false` when no subject has the identifier: the bundle says so.
    package var found: Bool
}

/// The signed manifest of an export bundle: SHA-256 of every other file.
package struct BundleManifest: Codable, Sendable, Equatable {
    package struct File: Codable, Sendable, Equatable {
        package var name: String
        package var bytes: Int
        package var sha256: String
    }
    package var format = "coffer-export/1"
    package var request: String
    package var createdAt: String
    package var vaultID: String
    package var files: [File]
    /// The Ed25519 key that signed `manifest.sig` (the vault's audit key; pin it with `audit export-key`).
    package var signingKey: String
}

extension RequestDesk {
    /// Access and portability (GDPR Art. 15, 20): writes everything the vault
    /// holds about the person to a ZIP bundle at `url` (never overwriting), with a
    /// signed manifest. An identifier no subject has gives a bundle that says so.
    package func export(subject identifier: Identifier, to url: URL, request: String? = nil,
                       receivedAt: Int64? = nil) throws -> ExportResult {
        guard !FileManager.default.fileExists(atPath: url.path) else { throw RequestError.outputExists(url.path) }
        let (register, subject, record) = try begin(.export, identifier, request: request, receivedAt: receivedAt, requireSubject: false)
        let time = now()
        var files: [(String, [UInt8])] = []
        var eventCount = 0
        if let subject {
            let content = try BundleContent(desk: self, subject: subject, request: record.id, now: time)
            eventCount = content.eventCount
            files = content.files
        }
        files.insert(("README.txt", Array(BundleContent.readme(request: record.id, identifier: identifier, found: subject != nil,
                                                                  generated: Timestamp.format(time), policy: policy).utf8)), at: 0)
        if subject == nil {
            files.append(("subject.json", try BundleContent.json(["request": record.id, "identifier": identifier.description,
                                                                   "found": false, "data_held": "none"])))
        }
        let keys = try vault.keys()
        let manifest = BundleManifest(request: record.id, createdAt: Timestamp.format(time), vaultID: vault.vaultID.hexString,
                                      files: try files.map { BundleManifest.File(name: $0.0, bytes: $0.1.count, sha256: try SHA256.hash($0.1).hexString) },
                                      signingKey: keys.auditSigning.publicKey.rawRepresentation.hexString)
        let manifestBytes = try BundleContent.encoder.encode(manifest)
        files.append(("manifest.json", Array(manifestBytes)))
        files.append(("manifest.sig", Array((try keys.auditSigning.signature(for: Array(manifestBytes)).hexString + "\n").utf8)))
        try Self.writeZip(files, to: url)

        let done = try vault.database.write { db in
            try complete(record, outcome: subject == nil ? "exported: no data held" : "exported \(eventCount) events",
                         logSeq: nil, register: register, in: db)
        }
        try vault.audit(.requestExport, target: subject.map(Vault.auditTarget), rows: eventCount,
                        reason: "\(done.id)\(subject == nil ? ": no subject has the \(identifier.type) identifier" : "")")
        return ExportResult(record: done, path: url.path, files: files.map { ($0.0, $0.1.count) }, events: eventCount, found: subject != nil)
    }

    /// Writes the files to a ZIP next to `url`, then moves it into place (owner-only permissions).
    static func writeZip(_ files: [(String, [UInt8])], to url: URL) throws {
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: partial)
        do {
            let archive = try Archive(url: partial, accessMode: .create)
            for (name, bytes) in files {
                let data = Data(bytes)
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                    data.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: partial.path)
            try FileManager.default.moveItem(at: partial, to: url)
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw VaultError.io(path: url.path, error: error)
        }
    }
}

/// The files of an export bundle about one person.
struct BundleContent {
    var files: [(String, [UInt8])] = []
    var eventCount = 0

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
    }

    /// A single-view value as JSON writes it; nil for null (left out).
    static func json(_ cell: Cell) -> Any? {
        switch cell {
        case let .integer(value): return value
        case let .real(value): return value
        case let .text(text): return text
        case .null: return nil
        }
    }

    init(desk: RequestDesk, subject: SubjectID, request: String, now: Int64) throws {
        let vault = desk.vault
        let graph = try vault.identityGraph()
        let ledger = try vault.consentLedger()
        let (family, identifiers, allEvents, consents, restriction) = try vault.database.read { db in
            return (try graph.mergedSubjects(of: subject, in: db), try graph.identifiers(of: subject, in: db),
                    try graph.events(ofPerson: subject, in: db), try ledger.history(of: subject, in: db),
                    try Restrictions.restriction(of: subject, in: db))
        }
        let cutoffs = RetentionCutoffs(policy: desk.policy, now: now)
        // Events past retention are not handed out (they are due for deletion), as they are not built.
        let events = allEvents.filter { !cutoffs.isExpired($0) }
        eventCount = events.count
        let profile = try PersonProfile.load(subject, vault: vault, policy: desk.policy, segments: desk.segments, now: now)

        // subject.json: identifiers and profile traits (latest value of each, as events and corrections set them).
        var traits: [String: Any] = [:]
        var decoded: [(StoredEvent, Any)] = []
        for event in events {
            let object = (try? JSONSerialization.jsonObject(with: Data(event.payload))) ?? String(decoding: event.payload, as: UTF8.self)
            decoded.append((event, object))
            if [.identify, .rectify].contains(event.kind), let payload = object as? [String: Any], let values = payload["traits"] as? [String: Any] {
                traits.merge(values) { _, new in new }
            }
        }
        files.append(("subject.json", try Self.json([
            "request": request, "generated_at": Timestamp.format(now), "subject_id": subject.hex,
            "merged_subject_ids": family.dropFirst().map(\.hex),
            "identifiers": identifiers.map { ["type": $0.type.rawValue, "value": $0.value] },
            "profile_traits": traits,
            "processing_restricted": restriction != nil,
        ])))

        // events.json and events.csv: every event, decrypted, with source and time. Written by
        // hand, one event per line, the payload as stored (canonical JSON): a JSON tree of
        // 10,000 events through JSONSerialization took seconds.
        var json: [UInt8] = Array("[\n".utf8)
        var csv = Array("seq,recorded_at,timestamp,kind,event,source,subject_id,payload\r\n".utf8)
        for (index, (event, object)) in decoded.enumerated() {
            let recordedAt = Timestamp.format(event.recordedAt)
            let payload = object as? [String: Any]
            let context = payload?["context"] as? [String: Any]
            let source = (context?["channel"] as? String) ?? ((context?["library"] as? [String: Any])?["name"] as? String)
                ?? (payload?["request"] != nil ? "coffer request" : "import")
            let name = (payload?["event"] as? String) ?? (payload?["name"] as? String) ?? ""
            let timestamp = (payload?["timestamp"] as? String) ?? ""
            json += Array("  {\"seq\":\(event.seq),\"recorded_at\":\"\(recordedAt)\",\"timestamp\":".utf8)
            CanonicalJSON.writeString(timestamp, into: &json)
            json += Array(",\"kind\":\"\(event.kind.rawValue)\",\"source\":".utf8)
            CanonicalJSON.writeString(source, into: &json)
            json += Array(",\"subject_id\":\"\(event.subject.hex)\",\"data\":".utf8)
            if payload != nil { json += event.payload } else { CanonicalJSON.writeString(String(decoding: event.payload, as: UTF8.self), into: &json) }
            json += Array((index + 1 < decoded.count ? "},\n" : "}\n").utf8)
            for (column, field) in [Array(String(event.seq).utf8), Array(recordedAt.utf8), Array(timestamp.utf8), Array(event.kind.rawValue.utf8),
                                    Array(name.utf8), Array(source.utf8), Array(event.subject.hex.utf8), event.payload].enumerated() {
                if column > 0 { csv.append(UInt8(ascii: ",")) }
                Self.appendCSVField(field, to: &csv)
            }
            csv += [0x0d, 0x0a]
        }
        json += Array("]\n".utf8)
        files.append(("events.json", json))
        files.append(("events.csv", csv))

        // consents.json: the full history with evidence.
        files.append(("consents.json", try Self.json(consents.map { entry -> [String: Any] in
            var item: [String: Any] = [
                "seq": entry.seq, "recorded_at": Timestamp.format(entry.recordedAt), "purpose": entry.record.purpose,
                "status": entry.record.status.rawValue, "lawful_basis": entry.record.lawfulBasis, "source": entry.record.source,
                "effective_at": Timestamp.format(entry.record.effectiveAt), "evidence": entry.record.evidence,
            ]
            if let expiry = entry.record.expiresAt { item["expires_at"] = Timestamp.format(expiry) }
            return item
        })))

        // single_view.json and segments.json: the profile as Coffer computes it, untransformed.
        var view: [String: Any] = ["computed_at": Timestamp.format(now)]
        for (column, cell) in profile.fields { view[column] = Self.json(cell) as Any? }
        files.append(("single_view.json", try Self.json(view)))
        files.append(("segments.json", try Self.json(profile.segments.map {
            ["segment": $0.name, "description": $0.description, "rule": $0.text]
        })))

        // profiling.json: the analysis of the last build (scores, forecasts, recommendations) and its logic.
        let profiling = try ProfilingRecord.load(customerKey: profile.customerKey, vault: vault, policy: desk.policy)
        files.append(("profiling.json", try Self.json([
            "logic": BundleContent.profilingLogic,
            "projections": profiling.map { record -> [String: Any] in
                let values = Dictionary(record.values.compactMap { column, cell in Self.json(cell).map { (column, $0) } },
                                        uniquingKeysWith: { first, _ in first })
                return ["purpose": record.purpose, "built_at": record.builtAt ?? "", "values": values,
                        "models": Dictionary(uniqueKeysWithValues: record.models)]
            },
        ])))

        // access_log.json: who accessed this person's data, when and why.
        let targets = try PersonProfile.auditTargets(family: family, customerKey: profile.customerKey, vault: vault, policy: desk.policy)
        let entries = try vault.auditEntries(AuditFilter(targets: targets))
        files.append(("access_log.json", try Self.json(entries.map { entry -> [String: Any] in
            var item: [String: Any] = ["at": Timestamp.format(entry.at), "actor": entry.details.actor, "role": entry.details.role,
                                       "action": entry.action.rawValue, "decision": entry.decision.rawValue, "rows": entry.details.rows]
            if let purpose = entry.details.purpose { item["purpose"] = purpose }
            if let reason = entry.details.reason { item["reason"] = reason }
            return item
        })))

        // processing.json: purposes, lawful bases, recipients, retention.
        files.append(("processing.json", Array(try Self.encoder.encode(ProcessingRecord(policy: desk.policy)))))
    }

    /// Appends one CSV field (RFC 4180: quoted, quotes doubled, when it holds a comma, quote or line break).
    static func appendCSVField(_ field: [UInt8], to out: inout [UInt8]) {
        guard field.contains(where: { $0 == 0x2c || $0 == 0x22 || $0 == 0x0a || $0 == 0x0d }) else {
            out += field
            return
        }
        out.append(0x22)
        for byte in field {
            out.append(byte)
            if byte == 0x22 { out.append(0x22) }
        }
        out.append(0x22)
    }

    /// What each field of single_view.json means, with its unit: from the view's column table.
    static func singleViewGlossary(policy: Policy) -> String {
        var text = "The fields of single_view.json\n------------------------------\n"
        let consents = policy.purposes.filter(\.needsConsent).map { purpose in
            (SingleView.consentColumn(purpose.name), "1 if your consent to \(purpose.name) is in force, else 0")
        }
        for (name, meaning) in SingleViewColumn.all.map({ column in
            (column.name, column.meaning + (column.unit.map { " (\($0.rawValue))" } ?? ""))
        }) + consents {
            text += name.padding(toLength: 25, withPad: " ", startingAt: 0) + meaning + "\n"
        }
        return text
    }

    /// How the analysis columns are computed, in words for the person (profiling.json's "logic").
    static let profilingLogic = """
        Scores are computed from your purchases (days with a purchase, and what was spent) at each build of our \
        projections. RFM: your recency, frequency (purchases in the last 12 months) and spend are ranked among all \
        customers' and scored 1 (lowest fifth) to 5 (highest fifth); the segment name follows from the recency and \
        frequency scores. p_alive and the expected purchases come from the BG/NBD model (Fader, Hardie & Lee 2005), \
        fitted to all customers' purchase histories: it weighs how often you bought against how long ago you last \
        did. expected_avg_spend comes from the Gamma-Gamma model (Fader & Hardie 2013); clv_12m is the expected spend \
        of the next 12 months, discounted. churn_risk is low (p_alive 0.7 or more), medium (0.3 to 0.7) or high. \
        recommended_items are items often bought together with what you buy, made only while your consent to \
        personalisation is in force. No decision with legal or similarly significant effect is made from them alone.
        """

    static func readme(request: String, identifier: Identifier, found: Bool, generated: String, policy: Policy) -> String {
        var text = """
            Your data: export \(request)
            ==========================

            This archive answers a request for access to, and a copy of, the personal data
            held about the person identified by \(identifier.type.rawValue) (GDPR Articles 15 and 20).
            It was generated on \(generated) from the data held at that moment.

            """
        guard found else {
            return text + """

                No data is held about this identifier: no record in the vault carries it. If
                data about you was erased earlier, nothing of it can be read any more.

                manifest.json lists every file with its SHA-256; manifest.sig is its Ed25519
                signature by the controller's audit key.

                """
        }
        text += """

            What each file holds
            --------------------
            subject.json      The identifiers that link records to you (email, phone, user
                              ids, loyalty id …) and your profile as it stands: the latest
                              value of each detail you or our systems gave.
            events.json       Every event recorded about you, decrypted, in the order it was
            events.csv        recorded: purchases, visits, email opens, consent decisions …
                              with its time and source. The CSV has the same rows, for a
                              spreadsheet; its last column is the full event as JSON.
            consents.json     Every consent you gave or withdrew, per purpose, with when, how
                              (source) and the evidence kept (notice version, form, message id).
            single_view.json  The summary computed from your events (spend, visits, channels,
                              rates, consent flags), exactly as our analysis starts from it.
            segments.json     The groups ("segments") you are in today and the rule that put
                              you there, e.g. "shop_times >= 10 and avg_spend > 15".
            profiling.json    What our analysis made of your purchases at its last run, per
                              purpose: your recency, frequency and spend scores (1-5) and
                              segment, how likely you are still a customer, the purchases
                              and spend forecast for you, your churn band and the items
                              recommended to you, with how each is computed.
            access_log.json   Who in our organisation accessed your data, when, for which
                              purpose and what they did: from our signed audit trail.
                              Analyses that read everyone's data at once (counts, averages)
                              are not listed per person.
            processing.json   Why we process data (purposes and lawful bases), who may see
                              which kind of field, and how long each kind is kept.
            manifest.json     Every file of this archive with its SHA-256 checksum.
            manifest.sig      The Ed25519 signature of manifest.json by our audit key: it
                              shows the archive is complete and unaltered.

            \(singleViewGlossary(policy: policy))
            Your rights
            -----------
            You may ask us to correct (rectify) your data, to erase it, or to restrict its
            processing, and you may withdraw any consent at any time. Policy in force:
            "\(policy.name)" version \(policy.version).

            """
        return text
    }
}

/// Checks an export bundle: every file is listed in the manifest with the
/// right SHA-256, nothing is missing or extra, and `manifest.sig` is a valid
/// Ed25519 signature of the manifest by `publicKey` (default: the key the
/// manifest names, which proves integrity but not origin).
package enum BundleVerifier {
    package static func verify(_ url: URL, publicKey: Ed25519.PublicKey?) throws -> BundleManifest {
        let contents: [String: [UInt8]]
        do {
            contents = try files(url)
        } catch {
            throw RequestError.verificationFailed("\(url.path) is not a readable ZIP archive, or an entry is damaged (\(error))")
        }
        guard let manifestBytes = contents["manifest.json"], let signatureText = contents["manifest.sig"] else {
            throw RequestError.verificationFailed("the archive has no manifest.json and manifest.sig")
        }
        let manifest: BundleManifest
        do {
            manifest = try JSONDecoder().decode(BundleManifest.self, from: Data(manifestBytes))
        } catch {
            throw RequestError.verificationFailed("manifest.json is not a Coffer export manifest")
        }
        let key = try publicKey ?? Ed25519.PublicKey(rawRepresentation: [UInt8](hexString: manifest.signingKey) ?? [])
        let signature = [UInt8](hexString: String(decoding: signatureText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        guard let signature, key.isValidSignature(signature, for: manifestBytes) else {
            throw RequestError.verificationFailed("manifest.sig is not a valid signature of manifest.json by key \((try? key.fingerprint()) ?? "?")")
        }
        let listed = Set(manifest.files.map(\.name))
        let present = Set(contents.keys).subtracting(["manifest.json", "manifest.sig"])
        if let extra = present.subtracting(listed).sorted().first {
            throw RequestError.verificationFailed("\(extra) is in the archive but not in the manifest")
        }
        for file in manifest.files {
            guard let bytes = contents[file.name] else { throw RequestError.verificationFailed("\(file.name) is missing from the archive") }
            guard try SHA256.hash(bytes).hexString == file.sha256, bytes.count == file.bytes else {
                throw RequestError.verificationFailed("\(file.name) does not match its SHA-256 in the manifest (altered)")
            }
        }
        return manifest
    }

    /// The files of a bundle, by name (for tests and tools that read it).
    package static func files(_ url: URL) throws -> [String: [UInt8]] {
        let archive = try Archive(url: url, accessMode: .read)
        var contents: [String: [UInt8]] = [:]
        for entry in archive where entry.type == .file {
            var bytes: [UInt8] = []
            _ = try archive.extract(entry) { bytes.append(contentsOf: $0) }
            contents[entry.path] = bytes
        }
        return contents
    }
}
