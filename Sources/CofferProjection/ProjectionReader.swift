import CofferCrypto
package import CofferPolicy
package import CofferStore
import Foundation
import GRDB
import GRDBSQLite
import CofferFormats

extension AuditAction {
    /// `view`: single-view rows.
    package static let view = AuditAction(rawValue: "view")
    /// `query`: analyst SQL (target: a keyed hash of the query text).
    package static let query = AuditAction(rawValue: "query")
    /// `segment show|stats`.
    package static let segment = AuditAction(rawValue: "segment")
}

/// A query's result: column names and rows.
package struct QueryResult: Sendable, Equatable {
    package var columns: [String]
    package var rows: [[Cell]]
}

/// Why analyst SQL was refused or failed.
package struct QueryError: CofferError, Equatable {
    package var message: String
    package var description: String { message }
}

/// Bounds on one analyst query, so a hostile or careless statement (a
/// recursive CTE that never ends, a string function that builds gigabytes)
/// stops with a clear error instead of taking the machine.
package struct QueryLimits: Sendable, Equatable {
    /// Wall-clock time a statement may run.
    package var seconds: Double = 10
    /// The largest string or blob one value may be (SQLITE_LIMIT_LENGTH).
    package var valueBytes: Int32 = 16 << 20
    /// Bytes of text and blobs a result may hold in all.
    package var resultBytes: Int = 256 << 20
    /// SQLite's heap for the whole process while queries run
    /// (`sqlite3_hard_heap_limit64`); an existing lower limit is kept.
    package var heapBytes: Int64 = 2 << 30

    package init() {}
}

/// Reads one purpose's projection as the actor's role: the file is decrypted
/// with that role's projection key into memory, and SQL runs read-only under
/// SQLite's authorizer. Every read is audited.
package final class ProjectionReader {
    /// Tables analyst SQL may read.
    package static let tables: Set<String> = ["single_view", "segments", "segment_members", "projection_info", "columns",
                                              "cohorts", "purchase_hours", "channel_mix", "basket_sizes", "category_mix", "product_affinity",
                                              "segment_history", "campaign_results"]
    /// Functions analyst SQL may call (nothing that reaches files or loads code).
    package static let functions: Set<String> = [
        "count", "sum", "total", "avg", "min", "max", "group_concat", "abs", "round", "length", "lower", "upper", "substr",
        "substring", "trim", "ltrim", "rtrim", "replace", "instr", "coalesce", "ifnull", "nullif", "iif", "typeof", "like",
        "glob", "date", "time", "datetime", "julianday", "strftime", "printf", "format", "cast", "random", "hex",
    ]

    package let purpose: String
    package let role: Role
    /// Whose file is read: the role's own, except compliance, which reads the
    /// owner's file of a purpose both may read (one file fewer to build; a DPO
    /// checks there that a rectification or a restriction took effect).
    package let fileRole: Role
    package let policy: Policy
    /// Bounds on each query; see `QueryLimits`.
    package var limits = QueryLimits()
    private let vault: Vault
    private let database: AnalystDatabase

    /// - Throws: `VaultError.notPermitted` without `read-projections`; `ProjectionError` when the
    ///   policy gives the role no access for the purpose or the projection is not built.
    package init(vault: Vault, policy: Policy, purpose: String, action: AuditAction) throws {
        try vault.require(.readProjections, for: action, purpose: purpose)
        guard policy.purpose(purpose) != nil else { throw ConsentError.unknownPurpose(purpose, declared: policy.purposes.map(\.name)) }
        guard policy.access[vault.role]?.purposes[purpose] != nil else {
            try vault.audit(action, decision: .denied, purpose: purpose, reason: "the policy gives role \(vault.role.rawValue) no access")
            throw ProjectionError.noAccess(role: vault.role.rawValue, purpose: purpose)
        }
        try vault.usePolicy(sha256: policy.sha256, name: policy.name)
        self.vault = vault
        self.policy = policy
        self.purpose = purpose
        role = vault.role
        fileRole = ProjectionBuilder.fileRole(for: vault.role, purpose: purpose, policy: policy)
        let key = try ProjectionFile.fileKey(vault.projectionKey(for: fileRole), purpose: purpose)
        let url = ProjectionFile.url(vault.layout, purpose: purpose, role: fileRole)
        var image = try ProjectionFile.decrypt(url, key: key, vaultID: vault.vaultID, purpose: purpose, role: fileRole)
        defer { image.wipe() }
        database = try AnalystDatabase(image: image, url: url)
        // A file older than the latest erasure or restriction (restored from a copy) may still show that person.
        try ProjectionFile.checkCurrent(database, url: url, latestPurge: try vault.database.read(Restrictions.latestPurgingEvent))
        try database.confine(to: ProjectionReader.authorize)
    }

    /// The purpose a role reads by default: the first, in policy order, it has access to.
    package static func defaultPurpose(for role: Role, policy: Policy) -> String? {
        policy.purposes.first { policy.access[role]?.purposes[$0.name] != nil }?.name
    }

    // MARK: Analyst SQL

    /// Runs one read-only statement; refused if it writes, attaches, uses a
    /// pragma, calls a function outside `functions`, or reads another table.
    package func query(_ sql: String, limit: Int = 100_000) throws -> QueryResult {
        let hash = try vault.auditLedger().queryHash(sql)
        do {
            let result = try run(sql, limit: limit)
            try vault.audit(.query, purpose: purpose, target: "query:\(hash)", rows: result.rows.count)
            return result
        } catch let error as QueryError {
            try vault.audit(.query, decision: .denied, purpose: purpose, target: "query:\(hash)", reason: error.message)
            throw error
        }
    }

    /// Runs one of Coffer's own read-only statements under the same limits and authorizer, without an
    /// audit entry of its own: for callers that audit what they show once (a dashboard page view).
    package func aggregate(_ sql: String, limit: Int = 200_000) throws -> QueryResult {
        try run(sql, limit: limit)
    }

    /// The tables of this file (a file of a purpose without recommendations has no `product_affinity`).
    package func hasTable(_ name: String) -> Bool {
        (try? run("SELECT 1 FROM \(name) LIMIT 0", limit: 1)) != nil
    }

    /// What the progress handler reads: when the statement must stop.
    private final class Deadline {
        let end: DispatchTime
        var expired = false
        init(seconds: Double) { end = .now() + seconds }
    }

    /// A value bound to a `?` of one of Coffer's own statements (never spliced into its text).
    private enum Argument {
        case text(String)
        case integer(Int64)
    }

    private func run(_ sql: String, arguments: [Argument] = [], limit: Int) throws -> QueryResult {
        let connection = database.connection
        sqlite3_limit(connection, SQLITE_LIMIT_LENGTH, limits.valueBytes)
        let heap = sqlite3_hard_heap_limit64(-1)
        if heap == 0 || heap > limits.heapBytes { sqlite3_hard_heap_limit64(limits.heapBytes) }
        let deadline = Deadline(seconds: limits.seconds)
        let context = Unmanaged.passUnretained(deadline).toOpaque()
        sqlite3_progress_handler(connection, 1000, { context in
            let deadline = Unmanaged<Deadline>.fromOpaque(context!).takeUnretainedValue()
            if DispatchTime.now() >= deadline.end { deadline.expired = true }
            return deadline.expired ? 1 : 0
        }, context)
        defer { withExtendedLifetime(deadline) { sqlite3_progress_handler(connection, 0, nil, nil) } }
        func failure(_ code: Int32) -> QueryError {
            if deadline.expired || code == SQLITE_INTERRUPT {
                return QueryError(message: "stopped: the query ran longer than \(JSONNumber(limits.seconds)?.text ?? "the limit of") s; "
                    + "narrow it (WHERE, LIMIT) or aggregate")
            }
            if code == SQLITE_TOOBIG || code == SQLITE_NOMEM {
                return QueryError(message: "stopped: the query needs more memory than analyst SQL may use "
                    + "(a value over \(limits.valueBytes >> 20) MiB, or SQLite's heap); narrow it or aggregate")
            }
            return QueryError(message: "SQL error: \(String(cString: sqlite3_errmsg(connection)))")
        }
        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let rc = sql.withCString { sqlite3_prepare_v2(connection, $0, -1, &statement, &tail) }
        defer { sqlite3_finalize(statement) }
        guard rc == SQLITE_OK, let statement else {
            let message = String(cString: sqlite3_errmsg(connection))
            if rc == SQLITE_AUTH || message.contains("not authorized") || message.contains("prohibited") {
                throw QueryError(message: "refused: analyst SQL may only SELECT from \(Self.tables.sorted().joined(separator: ", ")) "
                    + "with ordinary functions (\(message))")
            }
            throw QueryError(message: "SQL error: \(message)")
        }
        if let tail, !String(cString: tail).trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ";"))).isEmpty {
            throw QueryError(message: "refused: one statement at a time")
        }
        guard sqlite3_stmt_readonly(statement) != 0 else { throw QueryError(message: "refused: analyst SQL is read-only") }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let bound = switch argument {
            case let .text(text): text.withCString { sqlite3_bind_text(statement, position, $0, -1, ProjectionBuilder.transient) }
            case let .integer(value): sqlite3_bind_int64(statement, position, value)
            }
            guard bound == SQLITE_OK else { throw failure(bound) }
        }
        let count = sqlite3_column_count(statement)
        let columns = (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) }
        var rows: [[Cell]] = []
        var bytes = 0
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw failure(step) }
            guard rows.count < limit else { throw QueryError(message: "more than \(limit) rows: add a LIMIT or aggregate") }
            rows.append((0..<count).map { column in
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: return .integer(Int(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
                case SQLITE_NULL: return .null
                default:
                    bytes += Int(sqlite3_column_bytes(statement, column))
                    return .text(String(cString: sqlite3_column_text(statement, column)))
                }
            })
            guard bytes <= limits.resultBytes else {
                throw QueryError(message: "stopped: the result is larger than \(limits.resultBytes >> 20) MiB; select fewer or shorter values")
            }
        }
        return QueryResult(columns: columns, rows: rows)
    }

    /// SQLite's authorizer: only reads of the projection's own tables and whitelisted functions.
    static let authorize: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                         UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { _, action, first, second, _, _ in
        switch action {
        case SQLITE_SELECT, SQLITE_RECURSIVE:
            return SQLITE_OK
        case SQLITE_READ:
            guard let first else { return SQLITE_DENY }
            return ProjectionReader.tables.contains(String(cString: first)) ? SQLITE_OK : SQLITE_DENY
        case SQLITE_FUNCTION:
            guard let second else { return SQLITE_DENY }
            return ProjectionReader.functions.contains(String(cString: second).lowercased()) ? SQLITE_OK : SQLITE_DENY
        default:
            return SQLITE_DENY
        }
    }

    // MARK: Views and segments

    /// The `customer_id` under which this projection shows the person `identifier`
    /// names (owner and compliance: needs the master key to read their events).
    package func customerID(for identifier: Identifier) throws -> String? {
        let graph = try vault.identityGraph()
        let person = try vault.database.read { db -> (SubjectID, CustomerAggregate)? in
            guard let subject = try graph.subject(for: identifier, in: db) else { return nil }
            return (subject, try PersonProfile.aggregate(of: subject, graph: graph, in: db))
        }
        guard let (subject, aggregate) = person else { return nil }
        return try ProjectionPurge.customerID(of: SingleView.customerKey(aggregate, subject: subject), vault: vault, policy: policy,
                                              purpose: purpose, role: fileRole)
    }

    /// The single-view row of one customer (`customer_id` as the projection shows it).
    package func view(customerID: String) throws -> QueryResult {
        let result = try run("SELECT * FROM single_view WHERE customer_id = ?", arguments: [.text(customerID)], limit: 2)
        try vault.audit(.view, purpose: purpose, target: try vault.auditLedger().customerTarget(purpose: purpose, customerID: customerID),
                        rows: result.rows.count)
        return result
    }

    /// The top `count` customers by `column` (descending).
    package func top(_ count: Int, by column: String) throws -> QueryResult {
        let columns = try run("SELECT * FROM single_view LIMIT 0", limit: 1).columns
        guard columns.contains(column) else {
            throw QueryError(message: "no column '\(column)' in this projection; columns: \(columns.joined(separator: ", "))")
        }
        // The column is one of the projection's own (checked above): an identifier cannot be bound.
        let result = try run("SELECT * FROM single_view WHERE \"\(column)\" IS NOT NULL ORDER BY \"\(column)\" DESC LIMIT ?",
                             arguments: [.integer(Int64(max(count, 0)))], limit: max(count, 1))
        try vault.audit(.view, purpose: purpose, target: "top:\(column)", rows: result.rows.count)
        return result
    }

    /// A segment's size, or nil when below the minimum group size (shown as `< k`).
    package struct SegmentStat: Sendable, Equatable {
        package var name: String
        package var description: String
        package var rule: String
        package var size: Int?
    }

    /// Every materialised segment with its size; sizes under the policy's minimum group size are withheld.
    package func segmentStats() throws -> [SegmentStat] {
        let result = try run("""
            SELECT s.name, s.description, s.rule, count(m.customer_id) FROM segments s
            LEFT JOIN segment_members m ON m.segment = s.name GROUP BY s.name ORDER BY s.name
            """, limit: 10_000)
        let k = policy.minimumGroupSize
        let stats = result.rows.map { row -> SegmentStat in
            let size = Int(row[3].double ?? 0)
            return SegmentStat(name: row[0].description, description: row[1].description, rule: row[2].description,
                               size: size >= k ? size : nil)
        }
        try vault.audit(.segment, purpose: purpose, target: "segments:stats", rows: stats.count)
        return stats
    }

    /// The members of segment `name` (customer ids as this projection shows them).
    package func segmentMembers(_ name: String) throws -> [String] {
        let names = try run("SELECT name FROM segments ORDER BY name", limit: 10_000).rows.map { $0[0].description }
        guard names.contains(name) else { throw ProjectionError.unknownSegment(name, known: names) }
        let members = try run("SELECT customer_id FROM segment_members WHERE segment = ? ORDER BY customer_id",
                              arguments: [.text(name)], limit: 10_000_000).rows.map { $0[0].description }
        if ProjectionBuilder.groupsProtected(for: role), members.count < policy.minimumGroupSize {
            // Files built before this rule may still list small groups: withheld here too.
            try vault.audit(.segment, decision: .denied, purpose: purpose, target: "segment:\(name)",
                            reason: "fewer than the minimum group size")
            throw ProjectionError.smallGroup(segment: name, minimum: policy.minimumGroupSize)
        }
        try vault.audit(.segment, purpose: purpose, target: "segment:\(name)", rows: members.count)
        return members
    }
}
