import CofferCrypto
import CofferStore
package import GRDB

/// A projection file's person tables read person by person, in `customer_id`
/// order: each person's digest (what tells an incremental publish whose rows
/// changed) and, for those to be sent, their rows in ClickHouse's RowBinary format.
package struct PersonRows {
    /// One person: their digest (over their rows' values), how many segment rows they have, and, when
    /// asked for, their `single_view` row and their `segment_members` rows (RowBinary).
    struct Person {
        var customerID: String
        var digest: [UInt8] = []
        var memberRows = 0
        var view: [UInt8] = []
        var members: [UInt8] = []
    }

    let schema: RemoteSchema

    private var view: RemoteSchema.Table? { schema.tables.first { $0.source == "single_view" } }
    private var members: RemoteSchema.Table? { schema.tables.first { $0.source == "segment_members" } }

    /// Calls `body` for each person of the file, in `customer_id` (byte) order, with their rows
    /// when `lines` says so for their id (encoding costs more than the digest).
    func forEach(in db: Database, lines: (String) -> Bool = { _ in false }, _ body: (Person) throws -> Void) throws {
        guard let view else { return }
        let viewColumns = view.columns
        let rows = try Row.fetchCursor(db, sql: "SELECT \(viewColumns.map { "\"\($0.name)\"" }.joined(separator: ", ")) "
            + "FROM single_view ORDER BY customer_id")
        let memberColumns = members?.columns ?? []
        let memberRows = try members.map { _ in
            try Row.fetchCursor(db, sql: "SELECT \(memberColumns.map { "\"\($0.name)\"" }.joined(separator: ", ")) "
                + "FROM segment_members ORDER BY customer_id, segment")
        }
        let idColumn = memberColumns.firstIndex { $0.name == "customer_id" } ?? 0
        let hasher = try SHA256()
        var pending: Row? = try memberRows?.next()
        while let row = try rows.next() {
            let id: String = row["customer_id"]
            let encode = lines(id)
            var person = Person(customerID: id)
            try hasher.reset()
            try Self.hash(row, of: "single_view", into: hasher)
            if encode { Self.append(row, viewColumns, to: &person.view) }
            // Members of ids before this one have no row (cannot happen in a file a build wrote): skipped.
            while let member = pending, let memberID = member[idColumn] as String?, memberID.utf8.lexicographicallyPrecedes(id.utf8) {
                pending = try memberRows?.next()
            }
            try hasher.update([0xFF])
            while let member = pending, (member[idColumn] as String?) == id {
                try Self.hash(member, of: "segment_members", into: hasher)
                person.memberRows += 1
                if encode { Self.append(member, memberColumns, to: &person.members) }
                pending = try memberRows?.next()
            }
            person.digest = try hasher.finalize()
            try body(person)
        }
    }

    /// Feeds a row of `table` to `hasher`: its values, each with its type and length (as the vault's seals read a row).
    private static func hash(_ row: Row, of table: String, into hasher: SHA256) throws {
        try hasher.update(StateSeals.rowBytes(table: table, values: (0..<row.count).map { row[$0] as DatabaseValue }[...]))
    }

    /// All rows of a shared table, in ClickHouse's RowBinary format.
    static func rows(of table: RemoteSchema.Table, in db: Database) throws -> [UInt8] {
        var out: [UInt8] = []
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")) FROM \"\(table.source)\"")
        while let row = try cursor.next() { append(row, table.columns, to: &out) }
        return out
    }

    /// One row in ClickHouse's RowBinary format, each value as its column's type reads it: a null flag byte
    /// before a `Nullable` value, 8 little-endian bytes for `Int64` and `Float64`, a LEB128 length before a `String`.
    package static func append(_ row: Row, _ columns: [RemoteSchema.Column], to out: inout [UInt8]) {
        for (index, column) in columns.enumerated() {
            let value: DatabaseValue = row[index]
            if column.nullable {
                if value.isNull {
                    out.append(1)
                    continue
                }
                out.append(0)
            }
            switch column.base {
            case .int64:
                let number: Int64
                switch value.storage {
                case let .int64(integer): number = integer
                // The builder writes INTEGER columns as integers; a real that strays here is cut to its whole part.
                case let .double(real): number = Int64(exactly: real.rounded(.towardZero)) ?? 0
                default: number = 0
                }
                withUnsafeBytes(of: number.littleEndian) { out += $0 }
            case .float64:
                let number: Double
                switch value.storage {
                case let .int64(integer): number = Double(integer)
                case let .double(real): number = real
                default: number = 0
                }
                withUnsafeBytes(of: number.bitPattern.littleEndian) { out += $0 }
            case .string:
                let bytes: [UInt8]
                switch value.storage {
                case let .string(text): bytes = Array(text.utf8)
                case let .int64(integer): bytes = Array(String(integer).utf8)
                case let .double(real): bytes = Array(String(real).utf8)
                case let .blob(data): bytes = Array(data)
                case .null: bytes = []
                }
                var length = UInt64(bytes.count)
                repeat {
                    out.append(UInt8(length & 0x7F) | (length > 0x7F ? 0x80 : 0))
                    length >>= 7
                } while length > 0
                out += bytes
            }
        }
    }
}
