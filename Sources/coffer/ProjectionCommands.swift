import ArgumentParser
import CofferActivation
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import CofferFormats

/// Output formats for rows.
enum RowFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

extension QueryResult {
    /// Prints the rows as a table, CSV or JSON on stdout.
    func print(_ format: RowFormat) throws {
        switch format {
        case .table:
            let widths = columns.indices.map { index in
                min(40, max(columns[index].count, rows.map { $0[index].description.count }.max() ?? 0))
            }
            func line(_ cells: [String]) -> String {
                zip(cells, widths).map { cell, width in
                    let text = cell.count > width ? String(cell.prefix(width - 1)) + "…" : cell
                    return text.padding(toLength: width, withPad: " ", startingAt: 0)
                }.joined(separator: "  ")
            }
            Terminal.line(line(columns))
            Terminal.line(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
            for row in rows { Terminal.line(line(row.map(\.description))) }
            Terminal.line("(\(rows.count) row\(rows.count == 1 ? "" : "s"))")
        case .csv:
            func field(_ text: String) -> String {
                text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            }
            Terminal.line(columns.map(field).joined(separator: ","))
            for row in rows { Terminal.line(row.map { field($0.description) }.joined(separator: ",")) }
        case .json:
            let objects: [[String: Any]] = rows.map { row in
                var object: [String: Any] = [:]
                for (column, cell) in zip(columns, row) {
                    switch cell {
                    case .null: object[column] = NSNull()
                    case let .integer(value): object[column] = value
                    case let .real(value): object[column] = value
                    case let .text(text): object[column] = text
                    }
                }
                return object
            }
            Terminal.line(String(decoding: try CanonicalJSON.data(objects), as: UTF8.self))
        }
    }
}

extension VaultOptions {
    /// The segment definitions beside the policy (or --segments / $COFFER_SEGMENTS).
    func segments(_ explicit: String?, policy: Policy) throws -> [SegmentDefinition] {
        let path = SegmentCatalog.resolvePath(explicit: explicit, policyPath: policy.file, environment: CommandContext.current.environment)
        return try SegmentCatalog.load(path: path, policy: policy, required: explicit != nil)
    }

    /// Opens `purpose` (default: the first the role may read) as this actor.
    func reader(purpose: String?, action: AuditAction) throws -> ProjectionReader {
        let policy = try policy()
        let vault = try unlock()
        guard let purpose = purpose ?? ProjectionReader.defaultPurpose(for: vault.role, policy: policy) else {
            throw ProjectionError.noAccess(role: vault.role.rawValue, purpose: "any purpose")
        }
        return try ProjectionReader(vault: vault, policy: policy, purpose: purpose, action: action)
    }
}

/// `coffer project build`
struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Build the consented, policy-transformed projections analysts read.",
        subcommands: [Build.self]
    )

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fold the log into one encrypted database per purpose and role (owner only).",
            discussion: """
                Each projection holds only people whose consent (or the purpose's other lawful basis) covers \
                the purpose, with every field transformed as the policy says for the role, and the segments \
                of segments.yaml. Files: vault/projections/PURPOSE.ROLE.enc, AES-256-GCM, opened in memory. \
                Incremental: the log is read from where the last build stopped (its aggregates are kept, \
                sealed, in vault/projections/build-state.enc), unless subjects were merged since or --full. \
                The result is the same either way.
                """
        )
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Only this purpose (default: every purpose).", valueName: "PURPOSE")) var purpose: String?
        @Option(help: ArgumentHelp("Segment definitions (default: segments.yaml beside the policy).", valueName: "FILE"))
        var segments: String?
        @Flag(help: "Read the whole log, ignoring the last build's state.") var full = false

        func run() throws {
            let policy = try options.policy()
            let definitions = try options.segments(segments, policy: policy)
            let vault = try options.unlock()
            let builder = try ProjectionBuilder(vault: vault, policy: policy, segments: definitions)
            builder.incremental = !full
            let started = Date()
            let report = try builder.build(purposes: purpose.map { [$0] }) { progress in
                switch progress {
                case let .reading(share): Terminal.progress(String(format: "reading the log: %.0f %%…", share * 100))
                case let .wrote(purpose, role, done, total): Terminal.progress("wrote \(purpose).\(role.rawValue) (\(done) of \(total))…")
                }
            }
            Terminal.endProgress()
            Terminal.line(String(format: "Read %d event%@%@ of %d people (log up to seq %lld) and wrote %d projections in %.2f s "
                                 + "(read %.2f s, analysis %.2f s, files %.2f s).", report.events,
                                 report.events == 1 ? "" : "s",
                                 report.startSeq > 0 ? " (incremental: after seq \(report.startSeq))" : "", report.people,
                                 report.lastSeq, report.projections.count, Date().timeIntervalSince(started),
                                 report.timings.read, report.timings.analysis, report.timings.write))
            if report.restricted > 0 {
                Terminal.line("  \(report.restricted) restricted \(report.restricted == 1 ? "person" : "people") (GDPR Art. 18) left out of every projection")
            }
            for summary in report.projections {
                Terminal.line("  \(summary.purpose).\(summary.role.rawValue): \(summary.subjects) people"
                    + (summary.withoutConsent > 0 ? " (\(summary.withoutConsent) without consent left out)" : "")
                    + ", \(summary.columns.count) columns, \(summary.segments.count) segments, \(summary.bytes / 1024) KiB encrypted"
                    + (summary.skippedSegments.isEmpty ? "" : "; segments left out (they read a field this file does not hold): "
                        + summary.skippedSegments.joined(separator: ", ")))
            }
            // The campaigns' reach and uplift, into the activation purpose's files (analysts and marketers read them there).
            if purpose == nil || purpose == policy.activation.purpose {
                let campaigns = try CampaignResults.publish(vault: vault, policy: policy)
                if campaigns > 0 {
                    Terminal.line("  campaign_results: \(campaigns) campaign(s) measured against their holdouts, in the \(policy.activation.purpose) files")
                }
            }
        }
    }
}

/// `coffer view`
struct ViewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "Show single customer views from a projection.",
        discussion: """
            --subject takes an identifier (owner and compliance: e.g. email:alice@example.com) or a \
            customer_id as the projection shows it (analysts see tokens). The purpose defaults to the \
            first one the role may read.
            """
    )
    @OptionGroup var options: VaultOptions
    @Option(help: ArgumentHelp("The purpose's projection to read.", valueName: "PURPOSE")) var purpose: String?
    @Option(help: ArgumentHelp("One customer: TYPE:VALUE or a customer_id.", valueName: "ID")) var subject: String?
    @Option(help: ArgumentHelp("The N customers with the highest --by.", valueName: "N")) var top: Int?
    @Option(help: ArgumentHelp("Column for --top (default total_spend).", valueName: "COLUMN")) var by: String = "total_spend"
    @Option(help: "table, csv or json.") var format: RowFormat = .table

    func validate() throws {
        guard (subject == nil) != (top == nil) else { throw ValidationError("give either --subject ID or --top N") }
        if let top, top <= 0 { throw ValidationError("--top must be positive") }
    }

    func run() throws {
        let reader = try options.reader(purpose: purpose, action: .view)
        if let subject {
            var customerID = subject
            if let identifier = Identifier(argument: subject) {
                guard let id = try reader.customerID(for: identifier) else { throw ProjectionError.notFound }
                customerID = id
            }
            let result = try reader.view(customerID: customerID)
            guard let row = result.rows.first else { throw ProjectionError.notFound }
            if format == .table {
                let width = result.columns.map(\.count).max() ?? 0
                for (column, cell) in zip(result.columns, row) {
                    Terminal.line(column.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + cell.description)
                }
            } else {
                try result.print(format)
            }
        } else {
            try reader.top(top!, by: by).print(format)
        }
    }
}

/// `coffer query`
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run read-only SQL on a purpose's projection.",
        discussion: """
            Tables: single_view, segments, segment_members, projection_info. SQLite's authorizer refuses \
            writes, ATTACH, PRAGMA, other tables and functions that reach files or load code. \
            Example: coffer query --purpose marketing "SELECT age, count(*) FROM single_view GROUP BY age"
            """
    )
    @OptionGroup var options: VaultOptions
    @Option(help: ArgumentHelp("The purpose's projection to query.", valueName: "PURPOSE")) var purpose: String?
    @Option(help: "table, csv or json.") var format: RowFormat = .table
    @Argument(help: "One SELECT statement.") var sql: String

    func run() throws {
        try options.reader(purpose: purpose, action: .query).query(sql).print(format)
    }
}

/// `coffer segment list|show|stats`
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "List segments, their members and sizes.",
        subcommands: [List.self, Show.self, Stats.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the segment definitions (no customer data).")
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("Segment definitions file.", valueName: "FILE")) var segments: String?

        func run() throws {
            let policy = try options.policy()
            for segment in try options.segments(segments, policy: policy) {
                Terminal.line("\(segment.name): \(segment.rule.fields.sorted().joined(separator: ", "))")
                Terminal.line("  \(segment.description)")
                Terminal.line("  rule: \(segment.text)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a segment's members in a purpose's projection.")
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("The purpose's projection.", valueName: "PURPOSE")) var purpose: String?
        @Argument(help: "The segment.") var name: String

        func run() throws {
            let members = try options.reader(purpose: purpose, action: .segment).segmentMembers(name)
            for member in members { Terminal.line(member) }
            Terminal.note("\(members.count) member\(members.count == 1 ? "" : "s")")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Segment sizes in a purpose's projection; sizes below the minimum group size show as '< k'.")
        @OptionGroup var options: VaultOptions
        @Option(help: ArgumentHelp("The purpose's projection.", valueName: "PURPOSE")) var purpose: String?

        func run() throws {
            let reader = try options.reader(purpose: purpose, action: .segment)
            let k = reader.policy.minimumGroupSize
            for stat in try reader.segmentStats() {
                let size = stat.size.map(String.init) ?? "< \(k)"
                Terminal.line("\(stat.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(size.padding(toLength: 8, withPad: " ", startingAt: 0)) \(stat.rule)")
            }
        }
    }
}
