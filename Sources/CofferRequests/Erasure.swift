import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import GRDB

/// The signed record of an erasure, handed to the data subject or the regulator.
public struct ErasureReceipt: Codable, Sendable, Equatable {
    public var format = "coffer-erasure-receipt/1"
    public var request: String
    public var vaultID: String
    public var receivedAt: String
    public var completedAt: String
    /// The person's former random subject ids (no longer linked to anything).
    public var subjects: [String]
    /// Log position of the tombstone, and the chain head after it.
    public var tombstoneSeq: Int64
    public var logHeadHash: String
    public var shred: ShredReport
    public var projections: [ProjectionPurge.Outcome]
    /// Identifiers now on the suppression list (per policy), or 0.
    public var suppressReturningIdentifiers: Bool
    public var traceCheck: TraceCheck
    /// Milliseconds: shredding (keys, rows, tombstone, WAL), projection purge, no-trace check.
    public var shredMillis: Int
    public var purgeMillis: Int
    public var traceCheckMillis: Int
    public var policySHA256: String
}

/// A receipt with its Ed25519 signature (over the receipt's sorted-key JSON),
/// as `request erase --receipt FILE` writes it.
public struct SignedReceipt: Codable, Sendable {
    public var receipt: ErasureReceipt
    public var signature: String
    public var signingKey: String

    static func canonical(_ receipt: ErasureReceipt) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(receipt))
    }

    /// The file's bytes (pretty JSON).
    public func encoded() throws -> Data {
        try BundleContent.encoder.encode(self)
    }
}

extension RequestDesk {
    /// Erasure (GDPR Art. 17) by crypto-shredding: collects what the person's
    /// data looks like (to check afterwards that none of it remains), takes them
    /// out of every projection, destroys their keys and identity rows (one
    /// transaction, with a tombstone), truncates the WALs, runs the no-trace
    /// check, and returns the signed receipt. The log is not rewritten.
    public func erase(subject identifier: Identifier, request: String? = nil, receivedAt: Int64? = nil) throws -> SignedReceipt {
        let (register, found, record) = try begin(.erase, identifier, request: request, receivedAt: receivedAt)
        let subject = found!
        let profile = try PersonProfile.load(subject, vault: vault, policy: policy, segments: [], now: now())
        let trace = try traceMaterial(of: subject, profile: profile)

        var clock = Date()
        func lap() -> Int {
            defer { clock = Date() }
            return Int((Date().timeIntervalSince(clock) * 1000).rounded())
        }
        // Leftovers of a killed build are whole projection files the purge would not see: gone first.
        for directory in [vault.layout.directory, vault.layout.projections] { AtomicFile.removeLeftovers(in: directory) }
        // Stamped for the tombstone the shred appends next (a writer in between makes the files
        // stale, to be rebuilt: the safe side).
        var projections = try ProjectionPurge.remove(customerKey: profile.customerKey, vault: vault, policy: policy,
                                                     reconciled: try vault.logHead() + 1)
        // The saved build state holds the person's aggregate: the next build reads the whole log.
        if try ProjectionBuilder.forgetState(vault.layout) {
            projections.append(.buildStateDeleted)
        }
        let purgeMillis = lap()
        // Quarantined input that carries one of the person's identifiers (whole values) is theirs.
        let identifying = NeedleSearch(trace.identifiers)
        let quarantine = try vault.quarantine()
        let theirs = try vault.database.read { try quarantine.all(in: $0) }
            .filter { !identifying.find(in: $0.record).isEmpty }.map(\.id)
        let shred = try vault.shred(person: subject, request: record.id, suppress: policy.suppressReturningIdentifiers,
                                    quarantined: theirs)
        let shredMillis = lap()
        let check = try noTraceCheck(trace, subjects: shred.subjects.compactMap(SubjectID.init(hex:)))
        let checkMillis = lap()

        let head = try vault.eventLog().head()
        let done = try vault.database.write { db in
            try complete(record, outcome: "erased: \(shred.keysDestroyed) keys destroyed, \(shred.eventsUnreadable) events unreadable; "
                + "no-trace check \(check.clean ? "clean" : "FOUND \(check.findings.count)")", logSeq: shred.tombstoneSeq,
                register: register, in: db)
        }
        let receipt = ErasureReceipt(request: done.id, vaultID: vault.vaultID.hexString, receivedAt: Timestamp.format(done.receivedAt),
                                     completedAt: Timestamp.format(done.completedAt ?? now()), subjects: shred.subjects,
                                     tombstoneSeq: shred.tombstoneSeq, logHeadHash: head.hash.hexString, shred: shred,
                                     projections: projections, suppressReturningIdentifiers: policy.suppressReturningIdentifiers,
                                     traceCheck: check, shredMillis: shredMillis, purgeMillis: purgeMillis, traceCheckMillis: checkMillis,
                                     policySHA256: policy.sha256)
        let signer = try vault.keys().auditSigning
        let signed = SignedReceipt(receipt: receipt, signature: try signer.signature(for: SignedReceipt.canonical(receipt)).hexString,
                                   signingKey: signer.publicKey.rawRepresentation.hexString)
        try vault.audit(.requestErase, target: Vault.auditTarget(subject), rows: shred.eventsUnreadable,
                        reason: "\(done.id): tombstone seq \(shred.tombstoneSeq), no-trace check \(check.clean ? "clean" : "not clean")")
        // The audit entry above was appended after the WAL truncation: truncate again.
        _ = try vault.truncateWAL()
        return signed
    }

    /// What the person's data looks like, gathered before it is destroyed.
    struct TraceMaterial {
        /// Values that name the person: identifiers, names, customer ids.
        var identifiers: [NeedleSearch.Needle] = []
        var names: [NeedleSearch.Needle] = []
        /// Other string values of their profile and events (raw files only: in a
        /// decrypted projection such values are shared with other people).
        var values: [NeedleSearch.Needle] = []
        var customerIDs: [(file: String, id: String)] = []
        var identifierList: [Identifier] = []
    }

    func traceMaterial(of subject: SubjectID, profile: PersonProfile) throws -> TraceMaterial {
        let graph = try vault.identityGraph()
        var material = TraceMaterial()
        let events = try vault.database.read { db -> [StoredEvent] in
            material.identifierList = try graph.identifiers(of: subject, in: db)
            return try graph.events(ofPerson: subject, in: db)
        }
        material.identifiers = material.identifierList.map { .init(bytes: Array($0.value.utf8), label: "\($0.type.rawValue) identifier") }
        material.identifiers.append(.init(bytes: Array(profile.customerKey.utf8), label: "customer key"))
        for (column, cell) in profile.fields {
            guard case let .text(text) = cell else { continue }
            if ["email", "phone", "first_name", "last_name", "loyalty_id"].contains(column) {
                material.names.append(.init(bytes: Array(text.utf8), label: column.replacingOccurrences(of: "_", with: " ")))
            }
        }
        // Every string value of every event (names, addresses, product names, review texts …), for the raw-byte scan.
        for event in events {
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any] else { continue }
            let personal: [Any] = [object["traits"], object["properties"], (object["context"] as? [String: Any])?["traits"]].compactMap { $0 }
            Self.strings(in: personal) { text in
                if text.utf8.count >= 6, text.utf8.count <= 512 { material.values.append(.init(bytes: Array(text.utf8), label: "event value")) }
            }
        }
        material.customerIDs = try ProjectionPurge.customerIDs(of: profile.customerKey, vault: vault, policy: policy)
            .compactMap { file in file.id.map { (file.url.lastPathComponent, $0) } }
        return material
    }

    /// Text stored in clear by design, which a profile value may equal by
    /// chance: the schemas, event kinds, consent states, purposes, identifier
    /// types, roles, actor names and segment names.
    func clearVocabulary() throws -> [UInt8] {
        var words = EventKind.allCases.map(\.rawValue) + ConsentStatus.allCases.map(\.rawValue) + Role.allCases.map(\.rawValue)
        words += policy.purposes.map(\.name) + IdentifierType.builtIn.map(\.rawValue) + policy.declaredIdentifierTypes.map(\.rawValue)
        words += segments.map(\.name) + RequestType.allCases.map(\.rawValue) + ["open", "completed", "refused"]
        words.append(try vault.schemaText())
        if let keyslots = FileManager.default.contents(atPath: vault.layout.keyslots.path) { words.append(String(decoding: keyslots, as: UTF8.self)) }
        return Array(words.joined(separator: "\n").utf8)
    }

    static func strings(in value: Any, _ body: (String) -> Void) {
        switch value {
        case let text as String: body(text)
        case let array as [Any]: for item in array { strings(in: item, body) }
        case let object as [String: Any]: for item in object.values { strings(in: item, body) }
        default: break
        }
    }

    /// Looks for the person everywhere: the raw bytes of every file in the vault
    /// directory, the decrypted projections, quarantine and audit details, the
    /// identity graph and the log.
    func noTraceCheck(_ trace: TraceMaterial, subjects: [SubjectID]) throws -> TraceCheck {
        var findings: [String] = []
        let raw = NeedleSearch(trace.identifiers + trace.names + trace.values, minimumLength: NeedleSearch.rawMinimumLength,
                               vocabulary: try clearVocabulary())
        let root = vault.layout.directory
        var urls: [URL] = []
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = walker?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            // The vault's README documents the layout; it is shipped text, not data.
            if url.lastPathComponent == "README.md" && url.deletingLastPathComponent().standardizedFileURL == root.standardizedFileURL { continue }
            urls.append(url)
        }
        let results = try raw.find(inFiles: urls)
        let bytes = results.map(\.bytes).reduce(0, +)
        for (url, result) in zip(urls, results) {
            let name = url.path.replacingOccurrences(of: root.path + "/", with: "")
            for label in result.found.sorted() { findings.append("\(name): \(label) found in clear") }
        }

        // Decrypted stores: only identifiers (others' rows share first names, cities, products …).
        let naming = NeedleSearch(trace.identifiers)
        var checks: [String] = []
        for file in ProjectionPurge.files(vault.layout) where policy.purpose(file.purpose) != nil {
            let reader = try ProjectionInspector(vault: vault, purpose: file.purpose, role: file.role)
            let ids = trace.customerIDs.filter { $0.file == file.url.lastPathComponent }.map(\.id)
            if try reader.rows(withCustomerIDs: ids) > 0 { findings.append("\(file.url.lastPathComponent): still has the person's rows") }
            for label in naming.find(in: try reader.image()).sorted() {
                findings.append("\(file.url.lastPathComponent) (decrypted): \(label) found")
            }
        }
        checks.append("projections")
        let quarantine = try vault.quarantine()
        for record in try vault.database.read({ try quarantine.all(in: $0) }) where !naming.find(in: record.record).isEmpty {
            findings.append("quarantine record \(record.id) (decrypted): names the person")
        }
        checks.append("quarantine")
        for entry in try vault.auditLedger().entries() {
            let text = [entry.details.target, entry.details.reason, entry.details.purpose].compactMap { $0 }.joined(separator: " ")
            if !naming.find(in: Array(text.utf8)).isEmpty { findings.append("audit entry \(entry.seq) (decrypted): names the person") }
        }
        checks.append("audit ledger")
        let graph = try vault.identityGraph()
        let log = try vault.eventLog()
        try vault.database.read { db in
            for identifier in trace.identifierList where try graph.subject(for: identifier, in: db) != nil {
                findings.append("identity graph: the \(identifier.type.rawValue) identifier still resolves")
            }
            for subject in subjects where try !log.events(of: subject, in: db).isEmpty {
                findings.append("event log: events of subject \(subject.hex) still decrypt")
            }
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM keyring WHERE subject_id IN (\(subjects.map { _ in "?" }.joined(separator: ",")))",
                                        arguments: StatementArguments(subjects.map { Data($0.bytes) })) ?? 0
            if rows > 0 { findings.append("keyring: \(rows) key(s) of the person remain") }
        }
        checks += ["identity graph", "event log", "keyring"]
        return TraceCheck(filesScanned: urls.count, bytesScanned: bytes, valuesSearched: raw.count, decryptedChecks: checks, findings: findings)
    }

    /// Verifies a signed receipt: the signature over its content by `publicKey`
    /// (default: the key the receipt names, which proves integrity only).
    public static func verify(_ signed: SignedReceipt, publicKey: Ed25519.PublicKey?) throws -> ErasureReceipt {
        let key = try publicKey ?? Ed25519.PublicKey(rawRepresentation: [UInt8](hexString: signed.signingKey) ?? [])
        guard let signature = [UInt8](hexString: signed.signature),
              key.isValidSignature(signature, for: try SignedReceipt.canonical(signed.receipt)) else {
            throw RequestError.verificationFailed("the receipt's signature does not match its content and key")
        }
        return signed.receipt
    }
}
