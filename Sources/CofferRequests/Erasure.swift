package import CofferCrypto
import CofferPolicy
package import CofferProjection
package import CofferStore
package import Foundation
import GRDB
import CofferFormats

/// The signed record of an erasure, handed to the data subject or the regulator.
package struct ErasureReceipt: Codable, Sendable, Equatable {
    package var format = "coffer-erasure-receipt/1"
    package var request: String
    package var vaultID: String
    package var receivedAt: String
    package var completedAt: String
    /// The person's former random subject ids (no longer linked to anything).
    package var subjects: [String]
    /// Log position of the tombstone, and the chain head after it.
    package var tombstoneSeq: Int64
    package var logHeadHash: String
    package var shred: ShredReport
    package var projections: [ProjectionPurge.Outcome]
    /// Identifiers now on the suppression list (per policy), or 0.
    package var suppressReturningIdentifiers: Bool
    package var traceCheck: TraceCheck
    /// Milliseconds: shredding (keys, rows, tombstone, WAL), projection purge, no-trace check.
    package var shredMillis: Int
    package var purgeMillis: Int
    package var traceCheckMillis: Int
    package var policySHA256: String
    /// The published copies (`coffer publish`) that held the person, and whether each is verified
    /// rid of them yet (absent from receipts of vaults that never published).
    package var remoteCopies: [RemoteCopyState]?
}

/// Where an erasure (or restriction) stands on one published copy.
package struct RemoteCopyState: Codable, Sendable, Equatable {
    /// `purpose|role|database|shard URLs`.
    package var copy: String
    /// `verified gone` (0 rows on every shard) or `pending` (queued; `coffer publish sync` sends it).
    package var status: String
    package var queuedAt: String
    package var verifiedAt: String?
    /// When ClickHouse drops the parts that held the rows (verified + `old_parts_lifetime`).
    package var physicalRemovalBy: String?
    package var attempts: Int

    package var isVerified: Bool { verifiedAt != nil }

    /// The states of the deletes `request` caused, one per copy.
    package static func of(request: String, vault: Vault) throws -> [RemoteCopyState] {
        try vault.database.read { try RemoteCopies.deletes(ofRequest: request, in: $0) }.map { delete in
            RemoteCopyState(copy: delete.copyID, status: delete.isPending ? "pending" : "verified gone",
                            queuedAt: Timestamp.format(delete.queuedAt), verifiedAt: delete.verifiedAt.map(Timestamp.format),
                            physicalRemovalBy: delete.removalDueAt.map(Timestamp.format), attempts: delete.attempts)
        }
    }
}

/// `request receipt ID`: a signed statement of where a request's remote deletes stand, issued after
/// the erasure receipt (whose copies may still have been pending when it was signed).
package struct RemoteStatement: Codable, Sendable, Equatable {
    package var format = "coffer-remote-erasure-statement/1"
    package var request: String
    package var type: String
    package var vaultID: String
    package var at: String
    package var copies: [RemoteCopyState]
    /// Every copy that held the person is verified rid of them.
    package var allVerified: Bool
}

/// A remote statement with its Ed25519 signature (over its sorted-key JSON).
package struct SignedRemoteStatement: Codable, Sendable {
    package var statement: RemoteStatement
    package var signature: String
    package var signingKey: String

    package func encoded() throws -> Data { try BundleContent.encoder.encode(self) }
}

/// A receipt with its Ed25519 signature (over the receipt's sorted-key JSON),
/// as `request erase --receipt FILE` writes it.
package struct SignedReceipt: Codable, Sendable {
    package var receipt: ErasureReceipt
    package var signature: String
    package var signingKey: String

    /// The bytes a receipt or report is signed over: its sorted-key JSON.
    static func canonical(_ content: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(content))
    }

    /// Signs `content` with the vault's audit key: the signature and the key, in hex.
    static func sign(_ content: some Encodable, vault: Vault) throws -> (signature: String, signingKey: String) {
        let signer = try vault.keys().auditSigning
        return (try signer.signature(for: canonical(content)).hexString, signer.publicKey.rawRepresentation.hexString)
    }

    /// The file's bytes (pretty JSON).
    package func encoded() throws -> Data {
        try BundleContent.encoder.encode(self)
    }
}

extension RequestDesk {
    /// Erasure (GDPR Art. 17) by crypto-shredding: collects what the person's
    /// data looks like (to check afterwards that none of it remains), takes them
    /// out of every projection, destroys their keys and identity rows (one
    /// transaction, with a tombstone), truncates the WALs, runs the no-trace
    /// check, and returns the signed receipt. The log is not rewritten.
    ///
    /// Each step is recorded, sealed, in the register entry: an erasure cut
    /// off after its shred is finished (check, register, receipt) by running
    /// it again with `request` (the identifier may then be left out: the
    /// request names the person). An identifier nobody has is registered too,
    /// and its receipt shows the check that nothing carries it.
    package func erase(subject identifier: Identifier?, request: String? = nil, receivedAt: Int64? = nil) throws -> SignedReceipt {
        let (register, found, opened) = try beginErasure(identifier, request: request, receivedAt: receivedAt)
        var record = opened
        var clock = Date()
        func lap() -> Int {
            defer { clock = Date() }
            return Int((Date().timeIntervalSince(clock) * 1000).rounded())
        }
        if var pending = record.pendingErasure, let shred = pending.shred {
            // Cut off after the shred: what is left is the check, the register and the receipt.
            record.pendingErasure = nil
            pending.shred = shred
            return try finishErasure(record, pending: pending, register: register, resumed: true)
        }
        guard let subject = found else {
            // Nobody has this identifier: registered and checked, nothing to shred.
            let trace = TraceMaterial(identifier: identifier!)
            let pending = PendingErasure(trace: trace, shred: ShredReport.nothing(tombstoneSeq: try vault.logHead()))
            return try finishErasure(record, pending: pending, register: register, resumed: false)
        }
        let profile = try PersonProfile.load(subject, vault: vault, policy: policy, segments: [], now: now())
        var pending = PendingErasure(trace: try traceMaterial(of: subject, profile: profile))
        try saveStep(&record, pending, register: register)
        clock = Date()

        // Leftovers of a killed build are whole projection files the purge would not see: gone first.
        for directory in [vault.layout.directory, vault.layout.projections] { AtomicFile.removeLeftovers(in: directory) }
        // Stamped for the tombstone the shred appends next (a writer in between makes the files
        // stale, to be rebuilt: the safe side).
        pending.projections = try ProjectionPurge.remove(customerKey: profile.customerKey, vault: vault, policy: policy,
                                                         reconciled: try vault.logHead() + 1)
        // The saved build state holds the person's aggregate: the next build reads the whole log.
        if try ProjectionBuilder.forgetState(vault.layout) {
            pending.projections.append(.buildStateDeleted)
        }
        pending.purgeMillis = lap()
        try afterErasureStep("purged")
        // Quarantined input that carries one of the person's identifiers (whole values) is theirs.
        let identifying = NeedleSearch(pending.trace.identifiers)
        let quarantine = try vault.quarantine()
        let theirs = try vault.database.read { try quarantine.all(in: $0) }
            .filter { !identifying.find(in: $0.record).isEmpty }.map(\.id)
        // The shred and the note that it happened commit together.
        var shredded = record
        let shred = try vault.shred(person: subject, request: record.id, suppress: policy.suppressReturningIdentifiers,
                                    quarantined: theirs) { db, report in
            var step = pending
            step.shred = report
            shredded.pendingErasure = step
            try register.save(shredded, in: db)
        }
        pending.shred = shred
        pending.shredMillis = lap()
        try afterErasureStep("shredded")
        return try finishErasure(record, pending: pending, register: register, resumed: false)
    }

    /// The register entry of an erasure: a new one, the open request named, or
    /// one whose person was already shredded (then `found` is nil).
    private func beginErasure(_ identifier: Identifier?, request: String?,
                              receivedAt: Int64?) throws -> (RequestRegister, SubjectID?, RequestRecord) {
        if let request {
            let desk = try self.register(for: AuditAction.request(.erase))
            let record = try vault.database.read { try desk.openRecord(request, in: $0) }
            guard record.type == .erase else {
                throw RequestError.wrongType(id: record.id, type: record.type.rawValue, expected: RequestType.erase.rawValue)
            }
            if record.pendingErasure?.shred != nil { return (desk, nil, record) }
            if identifier == nil {
                // `--request` alone: the register names the person.
                guard let subject = record.subject else { throw RequestError.unknownRequestSubject(id: record.id) }
                return (desk, subject, record)
            }
        }
        guard let identifier else { throw RequestError.nothingNamed }
        return try begin(.erase, identifier, request: request, receivedAt: receivedAt, requireSubject: false)
    }

    /// Records progress in the register entry (sealed).
    private func saveStep(_ record: inout RequestRecord, _ pending: PendingErasure, register: RequestRegister) throws {
        record.pendingErasure = pending
        let updated = record
        try vault.database.write { try register.save(updated, in: $0) }
    }

    /// The no-trace check, the closed register entry (without the pending
    /// material), the signed receipt, the audit entry and the WAL truncation.
    private func finishErasure(_ record: RequestRecord, pending: PendingErasure, register: RequestRegister,
                               resumed: Bool) throws -> SignedReceipt {
        let shred = pending.shred!
        if let sync = syncRemoteCopies, try !(remoteCopies(of: record.id) ?? []).isEmpty {
            do { try sync() } catch { vault.warn("the published copies could not be reached now (\(error)): their deletes stay queued") }
        }
        let start = Date()
        let check = try noTraceCheck(pending.trace, subjects: shred.subjects.compactMap(SubjectID.init(hex:)))
        let checkMillis = Int((Date().timeIntervalSince(start) * 1000).rounded())
        let head = try vault.eventLog().head()
        var closing = record
        closing.pendingErasure = nil
        let outcome = shred.subjects.isEmpty ? "no data held for this identifier"
            : "erased: \(shred.keysDestroyed) keys destroyed, \(shred.eventsUnreadable) events unreadable"
        let done = try vault.database.write { db in
            try complete(closing, outcome: outcome + "; no-trace check \(check.clean ? "clean" : "FOUND \(check.findings.count)")"
                + (resumed ? "; completed by a second run after an interruption" : ""),
                logSeq: shred.subjects.isEmpty ? nil : shred.tombstoneSeq, register: register, in: db)
        }
        let receipt = ErasureReceipt(request: done.id, vaultID: vault.vaultID.hexString, receivedAt: Timestamp.format(done.receivedAt),
                                     completedAt: Timestamp.format(done.completedAt ?? now()), subjects: shred.subjects,
                                     tombstoneSeq: shred.tombstoneSeq, logHeadHash: head.hash.hexString, shred: shred,
                                     projections: pending.projections, suppressReturningIdentifiers: policy.suppressReturningIdentifiers,
                                     traceCheck: check, shredMillis: pending.shredMillis, purgeMillis: pending.purgeMillis,
                                     traceCheckMillis: checkMillis, policySHA256: policy.sha256,
                                     remoteCopies: try remoteCopies(of: done.id))
        let (signature, signingKey) = try SignedReceipt.sign(receipt, vault: vault)
        let signed = SignedReceipt(receipt: receipt, signature: signature, signingKey: signingKey)
        try vault.audit(.requestErase, target: shred.subjects.first.flatMap(SubjectID.init(hex:)).map(Vault.auditTarget),
                        rows: shred.eventsUnreadable,
                        reason: "\(done.id): " + (shred.subjects.isEmpty ? "no subject has the identifier"
                            : "tombstone seq \(shred.tombstoneSeq)") + ", no-trace check \(check.clean ? "clean" : "not clean")")
        // The register's pending material and the audit entry were written after the WAL truncation: truncate again.
        _ = try vault.truncateWAL()
        return signed
    }

    /// What the person's data looks like, gathered before it is destroyed: only
    /// values that identify them (whole identifiers, names, the customer key),
    /// which a chance match in random bytes does not imitate; page paths,
    /// product names and other shared values are not evidence of anyone.
    struct TraceMaterial: Codable, Equatable {
        /// Values that name the person: identifiers and the customer key (also searched in decrypted stores).
        var identifiers: [NeedleSearch.Needle] = []
        /// Their names, email and phone as the profile holds them (raw files only).
        var names: [NeedleSearch.Needle] = []
        /// Their rows' `customer_id` in each projection file.
        var customerIDs: [CustomerRow] = []
        /// The identifiers as `type:value`, to check none still resolves.
        var identifierTexts: [String] = []

        struct CustomerRow: Codable, Equatable {
            var file: String
            var id: String
        }

        init() {}

        /// For an identifier nobody has: the check looks for it alone.
        init(identifier: Identifier) {
            identifiers = [.init(bytes: Array(identifier.value.utf8), label: "\(identifier.type.rawValue) identifier")]
            identifierTexts = [identifier.description]
        }
    }

    func traceMaterial(of subject: SubjectID, profile: PersonProfile) throws -> TraceMaterial {
        let graph = try vault.identityGraph()
        var material = TraceMaterial()
        let identifiers = try vault.database.read { try graph.identifiers(of: subject, in: $0) }
        material.identifierTexts = identifiers.map(\.description)
        material.identifiers = identifiers.map { .init(bytes: Array($0.value.utf8), label: "\($0.type.rawValue) identifier") }
        material.identifiers.append(.init(bytes: Array(profile.customerKey.utf8), label: "customer key"))
        for (column, cell) in profile.fields {
            guard case let .text(text) = cell else { continue }
            if ["email", "phone", "first_name", "last_name", "loyalty_id"].contains(column) {
                material.names.append(.init(bytes: Array(text.utf8), label: column.replacingOccurrences(of: "_", with: " ")))
            }
        }
        material.customerIDs = try ProjectionPurge.customerIDs(of: profile.customerKey, vault: vault, policy: policy)
            .compactMap { file in file.id.map { TraceMaterial.CustomerRow(file: file.url.lastPathComponent, id: $0) } }
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

    /// Looks for the person everywhere: the raw bytes of every file in the vault
    /// directory, the decrypted projections, quarantine and audit details, the
    /// identity graph and the log.
    func noTraceCheck(_ trace: TraceMaterial, subjects: [SubjectID]) throws -> TraceCheck {
        var findings: [String] = []
        let raw = NeedleSearch(trace.identifiers + trace.names, minimumLength: NeedleSearch.rawMinimumLength,
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
        let locators = [(vault.layout.database, PageLocator(database: vault.database)),
                        (vault.layout.auditDatabase, PageLocator(database: try vault.auditLedger().queue))]
        for (url, result) in zip(urls, results) {
            let name = url.path.replacingOccurrences(of: root.path + "/", with: "")
            for (label, offset) in result.found.sorted(by: { $0.key < $1.key }) {
                // Where it is, so a DPO can judge it without the value: the page and its table in a database.
                let locator = locators.first { url.path == $0.0.path || url.path == $0.0.path + "-wal" }
                let place = locator.map { $0.1.describe(offset: offset, inWAL: url.path.hasSuffix("-wal"), file: url) } ?? "byte \(offset)"
                findings.append("\(name): \(label) found in clear (\(place))")
            }
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
            let declared = policy.declaredIdentifierTypes
            for identifier in trace.identifierTexts.compactMap({ Identifier(argument: $0, declaredTypes: declared) })
            where try graph.subject(for: identifier, in: db) != nil {
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

    /// The remote copies a request reached, nil when the vault never published.
    func remoteCopies(of request: String) throws -> [RemoteCopyState]? {
        let published = try vault.database.read { try RemoteCopies.copies(in: $0) }
        return published.isEmpty ? nil : try RemoteCopyState.of(request: request, vault: vault)
    }

    /// `request receipt ID`: where the request's remote deletes stand now, signed.
    package func remoteStatement(_ id: String) throws -> SignedRemoteStatement {
        let register = try self.register(for: .requestReceipt)
        let record = try vault.database.read { try register.record(id, in: $0) }
        let copies = try RemoteCopyState.of(request: record.id, vault: vault)
        let statement = RemoteStatement(request: record.id, type: record.type.rawValue, vaultID: vault.vaultID.hexString,
                                        at: Timestamp.format(now()), copies: copies, allVerified: copies.allSatisfy(\.isVerified))
        let (signature, signingKey) = try SignedReceipt.sign(statement, vault: vault)
        try vault.audit(.requestReceipt, reason: "\(record.id): \(copies.count) remote copies, "
            + (statement.allVerified ? "all verified gone" : "\(copies.count(where: { !$0.isVerified })) pending"))
        return SignedRemoteStatement(statement: statement, signature: signature, signingKey: signingKey)
    }

    /// Verifies a signed remote statement against `publicKey` (else the key inside it), as receipts are.
    package static func verify(_ signed: SignedRemoteStatement, publicKey: Ed25519.PublicKey?) throws -> RemoteStatement {
        try checkSignature(signed.signature, by: signed.signingKey, over: signed.statement, publicKey: publicKey, of: "statement")
        return signed.statement
    }

    /// Verifies a signed receipt: the signature over its content by `publicKey`
    /// (default: the key the receipt names, which proves integrity only).
    package static func verify(_ signed: SignedReceipt, publicKey: Ed25519.PublicKey?) throws -> ErasureReceipt {
        try checkSignature(signed.signature, by: signed.signingKey, over: signed.receipt, publicKey: publicKey, of: "receipt")
        return signed.receipt
    }

    /// `signature` (hex) over `content`'s sorted-key JSON, by `publicKey`, else by the key the document names (hex).
    private static func checkSignature(_ signature: String, by signingKey: String, over content: some Encodable,
                                       publicKey: Ed25519.PublicKey?, of what: String) throws {
        let key = try publicKey ?? Ed25519.PublicKey(rawRepresentation: [UInt8](hexString: signingKey) ?? [])
        guard let signature = [UInt8](hexString: signature), key.isValidSignature(signature, for: try SignedReceipt.canonical(content)) else {
            throw RequestError.verificationFailed("the \(what)'s signature does not match its content and key")
        }
    }
}
