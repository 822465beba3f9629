package import GRDB

/// The tables a purpose's copy has on ClickHouse, and their columns as the
/// projection file declares them (the policy's transforms already applied: a
/// column the role is denied is not in the file, so it is never created remotely).
///
/// Person tables (`single_view`, `segment_members`) live on every shard as
/// `PURPOSE_TABLE_local` (MergeTree ordered by `customer_id`), with a
/// `Distributed` table `PURPOSE_TABLE` over them keyed by
/// `cityHash64(customer_id)`: one person's rows are on one shard. Shared tables
/// (counts of groups of at least the policy's minimum size, segment
/// definitions, column meanings) hold no person and live on the first shard.
package struct RemoteSchema: Sendable {
    package struct Column: Equatable, Sendable {
        package enum Base: String, Sendable { case string = "String", int64 = "Int64", float64 = "Float64" }

        package var name: String
        package var base: Base
        package var nullable: Bool

        /// ClickHouse's type: `String`, `Int64`, `Float64`, or `Nullable` of one.
        package var type: String { nullable ? "Nullable(\(base.rawValue))" : base.rawValue }

        init(name: String, base: Base, nullable: Bool) {
            self.name = name
            self.base = base
            self.nullable = nullable
        }

        /// A column as `DESCRIBE TABLE` shows it (nil for a type Coffer does not create).
        init?(name: String, type: String) {
            let nullable = type.hasPrefix("Nullable(") && type.hasSuffix(")")
            guard let base = Base(rawValue: nullable ? String(type.dropFirst(9).dropLast()) : type) else { return nil }
            self.init(name: name, base: base, nullable: nullable)
        }
    }

    package struct Table: Sendable {
        /// The projection file's table name.
        package var source: String
        package var columns: [Column]
        package var perPerson: Bool
    }

    static let personTables = ["single_view", "segment_members"]
    /// The file's other tables that may be published; `activation_subjects` (subject ids) never is.
    static let sharedTables = ["segments", "columns", "projection_info", "segment_history", "cohorts", "purchase_hours",
                               "channel_mix", "basket_sizes", "category_mix", "product_affinity"]

    let database: String
    let purpose: String
    /// Several shards: person tables are stored in `_local` tables under a `Distributed` one.
    let sharded: Bool
    package var tables: [Table] = []

    /// The tables of the file open in `db`, in publishing order.
    package init(database: String, purpose: String, sharded: Bool, file db: Database) throws {
        self.database = database
        self.purpose = purpose
        self.sharded = sharded
        for name in Self.personTables + Self.sharedTables where try db.tableExists(name) {
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\"\(name)\")").map { row -> Column in
                let declared = (row["type"] as String? ?? "").uppercased()
                let notNull = (row["notnull"] as Int? ?? 0) != 0 || (row["pk"] as Int? ?? 0) != 0
                let base: Column.Base = declared.contains("INT") ? .int64
                    : declared.contains("REAL") || declared.contains("FLOA") || declared.contains("DOUB") ? .float64 : .string
                return Column(name: row["name"], base: base, nullable: !notNull)
            }
            tables.append(Table(source: name, columns: columns, perPerson: Self.personTables.contains(name)))
        }
    }

    /// `database`.`PURPOSE_TABLE`: what analysts query (the Distributed table for person tables on several shards).
    /// `suffix` names the table a rewrite fills before it takes the place of this one.
    package func name(_ table: Table, suffix: String = "") -> String { "`\(database)`.`\(purpose)_\(table.source)\(suffix)`" }

    /// The table a person table's rows are stored in on each shard (the queried one itself on one shard).
    func storageName(_ table: Table, suffix: String = "") -> String { "`\(database)`.`\(storageTable(table, suffix: suffix))`" }

    /// A person table's own name, and those of the tables a rewrite fills (`_next`) and drops (`_old`).
    static let rewriteSuffixes = ["", "_next", "_old"]

    /// The table on each shard that lists, during a rewrite, whose rows are not copied into the new tables.
    var leavingTable: String { Self.leavingTable(database: database, purpose: purpose) }

    static func leavingTable(database: String, purpose: String) -> String { "`\(database)`.`\(purpose)_leaving`" }

    /// The bare name of `storageName`.
    func storageTable(_ table: Table, suffix: String = "") -> String {
        Self.storageTable(of: table.source, purpose: purpose, sharded: sharded && table.perPerson) + suffix
    }

    /// The bare name of the table that stores the purpose's `source` table: `_local` under a Distributed table when sharded.
    static func storageTable(of source: String, purpose: String, sharded: Bool) -> String {
        "\(purpose)_\(source)" + (sharded ? "_local" : "")
    }

    func columnsSQL(_ table: Table) -> String {
        table.columns.map { "`\($0.name)` \($0.type)" }.joined(separator: ", ")
    }

    /// The local MergeTree of `table`: person tables ordered by `customer_id`; replaced parts dropped after `lifetime` s.
    package func createStorage(_ table: Table, partsLifetime: Int, suffix: String = "") -> String {
        "CREATE TABLE \(storageName(table, suffix: suffix)) (\(columnsSQL(table))) ENGINE = MergeTree() "
            + "ORDER BY \(table.perPerson ? "customer_id" : "tuple()") SETTINGS old_parts_lifetime = \(partsLifetime)"
    }

    func createDistributed(_ table: Table, cluster: String, suffix: String = "") -> String {
        "CREATE TABLE \(name(table, suffix: suffix)) AS \(storageName(table, suffix: suffix)) "
            + "ENGINE = Distributed(`\(cluster)`, `\(database)`, `\(storageTable(table, suffix: suffix))`, cityHash64(customer_id))"
    }

    /// Whether `name` can be used unquoted-safe inside backticks: letters, digits and _, starting with a letter.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}
