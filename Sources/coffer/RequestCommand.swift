import ArgumentParser
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferPublish
import CofferRequests
import CofferStore
import Foundation
import CofferFormats

extension RequestType: ExpressibleByArgument {}

extension VaultOptions {
    /// The request desk of the unlocked vault (segments are needed only for exports).
    func requestDesk(policy: Policy? = nil, segments: [SegmentDefinition] = []) throws -> RequestDesk {
        RequestDesk(vault: try unlock(), policy: try policy ?? self.policy(), segments: segments)
    }
}

/// `coffer request list|open|export|erase|restrict|lift|rectify|extend|refuse|verify`
struct RequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Data-subject requests: the register, export, erasure, restriction, rectification.",
        discussion: """
            For the compliance role (--actor NAME of a compliance actor); every command is audited, \
            and refused to other roles (the refusal is audited too). Each request gets an id \
            (DSR-0001 …) and a legal due date one calendar month after receipt, extendable by \
            up to two months with a reason. Handle a request at once (export/erase/… --subject), \
            or register it first (`open`) and complete it later with --request ID. \
            `verify` needs no vault: it checks an export bundle or an erasure receipt.
            """,
        subcommands: [List.self, Open.self, Export.self, Erase.self, Restrict.self, Lift.self, Rectify.self, Extend.self,
                      Refuse.self, Receipt.self, Verify.self]
    )

    /// Options shared by the commands that handle a request about one person.
    struct RequestOptions: ParsableArguments {
        @OptionGroup var vault: VaultOptions
        @Option(help: ArgumentHelp("The person, as TYPE:VALUE (email:…, user:…, phone:…).", valueName: "ID")) var subject: String?
        @Option(help: ArgumentHelp("Complete this open request of the register instead of opening a new one.", valueName: "DSR-ID"))
        var request: String?
        @Option(help: ArgumentHelp("When the request was received (YYYY-MM-DD or ISO-8601; default: now); the due date counts from it.",
                                   valueName: "DATE"))
        var received: String?
        @Option(help: ArgumentHelp("Segment definitions (default: segments.yaml beside the policy).", valueName: "FILE"))
        var segments: String?

        /// The desk, the parsed identifier and the received time.
        func desk() throws -> (RequestDesk, Identifier, Int64?) {
            let (desk, identifier, receivedAt) = try deskNamingOptionally()
            guard let identifier else { throw CommandFailure(message: "name the person with --subject TYPE:VALUE") }
            return (desk, identifier, receivedAt)
        }

        /// As `desk()`, for commands where --request alone names the person (erase).
        func deskNamingOptionally() throws -> (RequestDesk, Identifier?, Int64?) {
            let policy = try vault.policy()
            guard subject != nil || request != nil else { throw CommandFailure(message: "name the person with --subject TYPE:VALUE, or an open request with --request DSR-…") }
            let identifier = try subject.map { try vault.identifier($0) }
            let receivedAt = try received.map(RequestCommand.parseDate)
            return (try vault.requestDesk(policy: policy, segments: vault.segments(segments, policy: policy)), identifier, receivedAt)
        }
    }

    static func parseDate(_ text: String) throws -> Int64 {
        if let millis = Timestamp.parse(text) ?? Timestamp.parse(text + "T00:00:00Z") { return millis }
        throw CommandFailure(message: "'\(text)' is not a date: use YYYY-MM-DD or ISO-8601 (2026-11-02T09:30:00Z)")
    }

    static func describe(_ record: RequestRecord) -> String {
        "\(record.id) \(record.type.rawValue) \(record.status.rawValue), received \(day(record.receivedAt)), due \(day(record.dueAt))"
    }

    static func day(_ millis: Int64) -> String { String(Timestamp.format(millis).prefix(10)) }

    /// A key given as hex, named the way every command names keys.
    static func fingerprint(hex: String) -> String {
        ([UInt8](hexString: hex).flatMap { try? Ed25519.PublicKey(rawRepresentation: $0).fingerprint() }) ?? "(not a public key)"
    }

    /// Writes a signed document to `path` (saying how to check it), or prints it when there is no path.
    static func deliver(_ data: Data, to path: String?, what: String) throws {
        guard let path else { return Terminal.line(String(decoding: data, as: UTF8.self)) }
        try write(data, to: path)
        Terminal.line("Signed \(what) written to \(path) (check it with `coffer request verify \(path)`).")
    }

    static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw VaultError.io(path: path, detail: error.localizedDescription)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every request: id, type, subject, received, due date, status.",
            discussion: "Open requests past their due date are marked OVERDUE. --notes adds outcomes and reasons.")
        @OptionGroup var options: VaultOptions
        @Flag(help: "Also print each request's outcome and the reasons recorded.") var notes = false

        func run() throws {
            let desk = try options.requestDesk()
            let records = try desk.list()
            guard !records.isEmpty else {
                Terminal.line("No requests yet. `coffer request export|erase|restrict|lift|rectify --subject …` handles one; "
                    + "`coffer request open` registers one to handle later.")
                return
            }
            let now = EventLog.now()
            let people = try desk.people(of: records)
            let header = ["ID", "TYPE", "PERSON", "RECEIVED", "DUE", "STATUS"]
            let rows = records.map { record in
                [record.id, record.type.rawValue, people[record.id] ?? "(none found)",
                 RequestCommand.day(record.receivedAt), RequestCommand.day(record.dueAt) + (record.extendedMonths > 0 ? " (+\(record.extendedMonths)m)" : ""),
                 record.isOverdue(at: now) ? "OVERDUE" : record.status.rawValue
                    + (record.completedAt.map { " " + RequestCommand.day($0) } ?? "")]
            }
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                let line = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                Terminal.line(String(line.reversed().drop { $0 == " " }.reversed()))
            }
            if notes {
                for record in records where !record.notes.isEmpty {
                    Terminal.line("\(record.id): " + record.notes.joined(separator: "; "))
                }
            }
            let open = records.filter { $0.status == .open }
            let overdue = records.filter { $0.isOverdue(at: now) }
            Terminal.line("\(records.count) request\(records.count == 1 ? "" : "s"), \(open.count) open"
                + (overdue.isEmpty ? "" : ", \(overdue.count) OVERDUE"))
        }
    }

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a request received now (or --received DATE), to handle later with --request ID.")
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("export, erase, restrict, lift or rectify.", valueName: "TYPE")) var type: RequestType
        @Option(help: ArgumentHelp("The person, as TYPE:VALUE.", valueName: "ID")) var subject: String
        @Option(help: ArgumentHelp("When it was received (YYYY-MM-DD or ISO-8601; default: now).", valueName: "DATE")) var received: String?
        @Option(help: ArgumentHelp("How it arrived (e.g. 'email to privacy@'); kept encrypted.", valueName: "TEXT")) var note: String?

        func run() throws {
            let identifier = try options.identifier(subject)
            let desk = try options.requestDesk()
            let record = try desk.open(type, subject: identifier, receivedAt: try received.map(RequestCommand.parseDate), note: note)
            Terminal.line("Registered \(RequestCommand.describe(record))"
                + (record.subject == nil ? " (no subject has this identifier yet)" : ""))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Access / portability (Art. 15, 20): write everything held about the person to a ZIP bundle.",
            discussion: """
                The bundle holds README.txt, subject.json, events.json, events.csv, consents.json, \
                single_view.json, segments.json, access_log.json, processing.json, and manifest.json \
                (SHA-256 of each file) signed in manifest.sig by the vault's audit key. It contains \
                the person's data in clear: hand it over securely. `coffer request verify FILE` checks it.
                """)
        @OptionGroup var options: RequestOptions
        @Option(help: ArgumentHelp("The ZIP file to write (never overwritten).", valueName: "FILE.zip")) var out: String

        func run() throws {
            let (desk, identifier, received) = try options.desk()
            let started = Date()
            let result = try desk.export(subject: identifier, to: URL(fileURLWithPath: out), request: options.request, receivedAt: received)
            if result.found {
                Terminal.line(String(format: "Exported %d events to %@ in %.2f s (%@).", result.events, out,
                                     Date().timeIntervalSince(started), RequestCommand.describe(result.record)))
            } else {
                Terminal.line("No data is held about \(identifier.type.rawValue) \(identifier.value); \(out) says so "
                    + "(\(RequestCommand.describe(result.record))).")
            }
            for file in result.files { Terminal.line("  \(file.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(file.bytes) bytes") }
        }
    }

    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erasure (Art. 17): crypto-shred the person, purge projections, prove no trace remains.",
            discussion: """
                Destroys the person's data keys and identity rows (their events stay in the log, \
                unreadable for ever), removes them from every projection, appends a tombstone, \
                truncates the WAL, scans every vault file for their data, and prints a signed \
                receipt (or writes it with --receipt). It cannot be undone. On a terminal it asks \
                for confirmation unless --yes. Exit status 2 if the no-trace check found something.

                An erasure cut off after its keys were destroyed is finished by running it again \
                with --request DSR-… (the request names the person; --subject may be left out). \
                An identifier nobody has is registered too: the receipt shows the check that no \
                vault file carries it.
                """)
        @OptionGroup var options: RequestOptions
        @Option(help: ArgumentHelp("Write the signed receipt (JSON) to FILE.", valueName: "FILE")) var receipt: String?
        @Flag(help: "Do not ask for confirmation on a terminal.") var yes = false

        func run() throws {
            let (desk, identifier, received) = try options.deskNamingOptionally()
            if !yes && isatty(STDIN_FILENO) == 1 && Terminal.isInteractive {
                Terminal.note("Erase every record of \(identifier?.description ?? options.request ?? "?")? This cannot be undone. "
                    + "Type 'erase' to confirm: ")
                guard readLine()?.trimmingCharacters(in: .whitespaces) == "erase" else {
                    throw CommandFailure(message: "not confirmed; nothing was erased")
                }
            }
            // Deletes owed to published copies (`coffer publish`) are sent before the receipt is signed, when the
            // shards answer (credentials from COFFER_CLICKHOUSE_USER / _PASSWORD): the receipt then says verified.
            let credentials = try ClickHouseCredentials.load(file: nil, environment: CommandContext.current.environment)
            desk.syncRemoteCopies = { [vault = desk.vault] in _ = try DeleteSync(vault: vault, credentials: credentials).run() }
            let signed = try desk.erase(subject: identifier, request: options.request, receivedAt: received)
            let result = signed.receipt
            if result.subjects.isEmpty {
                Terminal.line("No subject has that identifier (\(result.request) registered): nothing to erase.")
            } else {
                Terminal.line("Erased the person of \(result.request): \(result.shred.keysDestroyed) key(s) destroyed, "
                + "\(result.shred.eventsUnreadable) events now unreadable, \(result.shred.identityRows) identity rows, "
                + "\(result.shred.consentRows) consent rows, \(result.shred.quarantinedRecords) quarantined records deleted.")
            }
            let files = result.projections.filter(\.isProjection)
            let purged = files.filter { $0.rowsRemoved > 0 }.count, deleted = files.filter(\.fileDeleted)
            Terminal.line("Projections: removed from \(purged) of \(files.count) file(s)"
                + (deleted.isEmpty ? "" : "; deleted \(deleted.map(\.file).joined(separator: ", ")) (run `coffer project build`)")
                + (files.count < result.projections.count ? "; build state deleted (the next build reads the whole log)" : ""))
            Terminal.line("Tombstone at log seq \(result.tombstoneSeq); WAL truncated: \(result.shred.walTruncated ? "yes" : "NO (another process holds the vault)").")
            if result.suppressReturningIdentifiers {
                Terminal.line("\(result.shred.suppressedTokens) identifier token(s) on the suppression list: records carrying them are dropped at ingest.")
            }
            let check = result.traceCheck
            Terminal.line("No-trace check: \(check.clean ? "clean" : "FOUND \(check.findings.count) trace(s)") — \(check.filesScanned) files, "
                + "\(check.bytesScanned / 1024) KiB, \(check.valuesSearched) values searched; decrypted: \(check.decryptedChecks.joined(separator: ", ")).")
            for finding in check.findings { Terminal.line("  \(finding)") }
            Terminal.line("Times: shred \(result.shredMillis) ms, projection purge \(result.purgeMillis) ms, no-trace check \(result.traceCheckMillis) ms.")
            if let copies = result.remoteCopies, !copies.isEmpty {
                let pending = copies.count(where: { !$0.isVerified })
                Terminal.line("Published copies holding the person: \(copies.count), "
                    + (pending == 0 ? "verified gone on every shard."
                        : "\(pending) not reached yet (pending): `coffer publish sync` sends and verifies them, "
                            + "then `coffer request receipt \(result.request)` states it, signed."))
            }
            try RequestCommand.deliver(try signed.encoded(), to: receipt, what: "receipt")
            if !check.clean { throw ExitCode(2) }
        }
    }

    struct Restrict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restriction (Art. 18): keep the person's data but leave them out of every projection until lifted.")
        @OptionGroup var options: RequestOptions
        @Option(help: ArgumentHelp("Why (e.g. 'accuracy contested'); kept in the restriction event.", valueName: "TEXT")) var reason: String?

        func run() throws {
            let (desk, identifier, received) = try options.desk()
            let (record, outcomes) = try desk.restrict(subject: identifier, request: options.request, receivedAt: received, reason: reason)
            let removed = outcomes.map(\.rowsRemoved).reduce(0, +)
            Terminal.line("Restricted (\(RequestCommand.describe(record))): removed \(removed) row(s) from \(outcomes.count) projection file(s); "
                + "every `project build` leaves the person out until `coffer request lift --subject \(identifier)`.")
            for outcome in outcomes where outcome.fileDeleted {
                Terminal.line("  \(outcome.file) deleted (it cannot show which row is the person's); run `coffer project build`.")
            }
        }
    }

    struct Lift: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a restriction: the next `project build` includes the person again.")
        @OptionGroup var options: RequestOptions

        func run() throws {
            let (desk, identifier, received) = try options.desk()
            let record = try desk.lift(subject: identifier, request: options.request, receivedAt: received)
            Terminal.line("Restriction lifted (\(RequestCommand.describe(record))); run `coffer project build` to include the person again.")
        }
    }

    struct Rectify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rectification (Art. 16): record corrected profile values; the next `project build` applies them.",
            discussion: """
                Fields: first_name, last_name, gender, birthday (YYYY-MM-DD), postcode, city, age, \
                loyalty_points. Identifiers (email, phone, user id, loyalty id) are not changed this \
                way: ingest an identify event with the right value, then erase the wrong one if needed.
                """)
        @OptionGroup var options: RequestOptions
        @Option(name: .customLong("set"), help: ArgumentHelp("A correction, FIELD=VALUE (repeatable).", valueName: "FIELD=VALUE"))
        var settings: [String] = []

        func run() throws {
            let corrections = try RequestDesk.corrections(settings)
            let (desk, identifier, received) = try options.desk()
            let record = try desk.rectify(subject: identifier, set: corrections, request: options.request, receivedAt: received)
            Terminal.line("Rectified \(corrections.keys.map(Policy.snakeCase).sorted().joined(separator: ", ")) (\(RequestCommand.describe(record)), log seq "
                + "\(record.logSeq ?? 0)); run `coffer project build` to apply it to the projections.")
        }
    }

    struct Extend: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Extend an open request's due date by 1 or 2 months (at most 2 in total), with a reason.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The request id (DSR-0001).") var id: String
        @Option(help: "Months to add: 1 or 2.") var months: Int = 1
        @Option(help: ArgumentHelp("Why (complexity, number of requests); told to the data subject.", valueName: "TEXT")) var reason: String

        func run() throws {
            let desk = try options.requestDesk()
            let record = try desk.extend(id, months: months, reason: reason)
            Terminal.line("Extended \(RequestCommand.describe(record)). Tell the data subject, with the reason, within the first month.")
            if RequestDesk.wasExtendedOverdue(record) {
                Terminal.note("coffer: warning: \(record.id) was already past its due date: GDPR Art. 12(3) expects the extension, "
                    + "and the data subject to be told, within the first month. The late extension is recorded as such.")
            }
        }
    }

    struct Receipt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a signed statement of where a request's deletes on published copies stand (`coffer publish`).",
            discussion: """
                An erasure receipt says, for each published copy that held the person, whether the delete was \
                verified on every shard when it was signed, or still pending. Once `coffer publish sync` has \
                verified them, this statement says so: when each copy showed 0 rows of the person, and when \
                ClickHouse drops the parts that held them. Exit status 1 while any is pending.
                """)
        @OptionGroup var options: VaultOptions
        @Argument(help: "The request id (DSR-0001).") var id: String
        @Option(help: ArgumentHelp("Write the signed statement (JSON) to FILE.", valueName: "FILE")) var receipt: String?

        func run() throws {
            let signed = try options.requestDesk().remoteStatement(id)
            let statement = signed.statement
            if statement.copies.isEmpty {
                Terminal.line("\(id): no published copy held the person: nothing was owed remotely.")
            }
            for copy in statement.copies {
                Terminal.line("  \(copy.copy): \(copy.status)" + (copy.verifiedAt.map { " at \($0)" } ?? " since \(copy.queuedAt)")
                    + (copy.physicalRemovalBy.map { ", physical removal by \($0)" } ?? ""))
            }
            try RequestCommand.deliver(try signed.encoded(), to: receipt, what: "statement")
            if !statement.allVerified { throw ExitCode(1) }
        }
    }

    struct Refuse: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse an open request, with the reason given to the data subject.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The request id (DSR-0001).") var id: String
        @Option(help: ArgumentHelp("Why (e.g. identity could not be verified).", valueName: "TEXT")) var reason: String

        func run() throws {
            let desk = try options.requestDesk()
            let record = try desk.refuse(id, reason: reason)
            Terminal.line("Refused \(RequestCommand.describe(record)). Tell the data subject why, and that they may complain to a supervisory authority.")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an export bundle (.zip) or an erasure receipt (.json): signature and checksums.",
            discussion: """
                Pin the vault's audit key with --public-key FILE (from `coffer audit export-key`); \
                without it the key inside the file is used, which shows integrity but not origin. \
                Exit status 2 when the check fails.
                """)
        @Argument(help: "The bundle or receipt.") var file: String
        @Option(help: ArgumentHelp("The audit public key to check against.", valueName: "FILE")) var publicKey: String?

        func run() throws {
            let key = try publicKey.map(ChainOptions.readPublicKey)
            let pinned = key == nil ? " (key taken from the file itself: pin it with --public-key)" : ""
            do {
                if file.lowercased().hasSuffix(".zip") {
                    let manifest = try BundleVerifier.verify(URL(fileURLWithPath: file), publicKey: key)
                    Terminal.line("OK: export \(manifest.request) of \(manifest.createdAt), \(manifest.files.count) files match their "
                        + "SHA-256, manifest signed by key \(RequestCommand.fingerprint(hex: manifest.signingKey))\(pinned)")
                } else {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        throw VaultError.io(path: file, detail: "cannot be read")
                    }
                    if let statement = try? JSONDecoder().decode(SignedRemoteStatement.self, from: data) {
                        let checked = try RequestDesk.verify(statement, publicKey: key)
                        Terminal.line("OK: remote statement for \(checked.request) of \(checked.at): \(checked.copies.count) copies, "
                            + (checked.allVerified ? "all verified gone" : "\(checked.copies.count(where: { !$0.isVerified })) pending")
                            + ", signed by key \(RequestCommand.fingerprint(hex: statement.signingKey))\(pinned)")
                        return
                    }
                    let signed: SignedReceipt
                    do {
                        signed = try JSONDecoder().decode(SignedReceipt.self, from: data)
                    } catch {
                        throw RequestError.verificationFailed("\(file) is not a Coffer erasure receipt")
                    }
                    let receipt = try RequestDesk.verify(signed, publicKey: key)
                    Terminal.line("OK: erasure receipt \(receipt.request) of \(receipt.completedAt), tombstone at seq \(receipt.tombstoneSeq), "
                        + "no-trace check \(receipt.traceCheck.clean ? "clean" : "NOT clean"), signed by key \(RequestCommand.fingerprint(hex: signed.signingKey))\(pinned)")
                    if let copies = receipt.remoteCopies, !copies.isEmpty {
                        let pending = copies.count(where: { !$0.isVerified })
                        Terminal.line("  published copies: \(copies.count), " + (pending == 0 ? "all verified gone"
                            : "\(pending) pending when signed (`coffer request receipt \(receipt.request)` states where they stand now)"))
                    }
                }
            } catch let error as RequestError {
                Terminal.line(error.description)
                throw ExitCode(2)
            }
        }
    }
}
