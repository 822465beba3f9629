import CofferCrypto
import CofferStore
package import GRDB

/// A projection file's person tables read person by person, in `customer_id`
/// order: each person's rows in ClickHouse's RowBinary format, and a digest
/// of those bytes (what tells an incremental publish whose rows changed: the
/// bytes a shard would hold for them).
package struct PersonRows: Sendable {
    /// One person: their `single_view` row and `segment_members` rows (RowBinary), how many segment
    /// rows they have, and the SHA-256 of the two.
    struct Person: Sendable {
        var customerID: String
        var digest: [UInt8] = []
        var memberRows = 0
        var view: [UInt8] = []
        var members: [UInt8] = []

        /// The bytes kept when the person is kept to be sent.
        var size: Int { view.count + members.count + customerID.utf8.count }
    }

    let schema: RemoteSchema

    private var view: RemoteSchema.Table? { schema.tables.first { $0.source == "single_view" } }
    private var members: RemoteSchema.Table? { schema.tables.first { $0.source == "segment_members" } }

    /// The people whose `customer_id` is in `from..<below` (a missing bound: no bound).
    struct Range: Sendable {
        var from: String?
        var below: String?

        static let all = Range()

        /// `from..<middle` and `middle..<below`, halving the `people` of `db` (one range when there is nobody to halve).
        static func halves(of people: Int, in db: Database) throws -> [Range] {
            guard let middle = try String.fetchOne(db, sql: "SELECT customer_id FROM single_view ORDER BY customer_id LIMIT 1 OFFSET ?",
                                                   arguments: [people / 2]) else { return [.all] }
            return [Range(below: middle), Range(from: middle)]
        }

        fileprivate var condition: String {
            [from.map { _ in "customer_id >= ?" }, below.map { _ in "customer_id < ?" }].compactMap(\.self).joined(separator: " AND ")
        }

        fileprivate func bind(_ statement: RawStatement) throws {
            for (index, bound) in [from, below].compactMap(\.self).enumerated() { try statement.bind(Int32(index + 1), text: bound) }
        }
    }

    /// Calls `body` for each person of the file in `range`, in `customer_id` (byte) order. Reads through SQLite's
    /// own calls: GRDB's boxing of each value cost as much as the rest of the read.
    func forEach(in db: Database, range: Range = .all, _ body: (Person) throws -> Void) throws {
        guard let view else { return }
        let viewColumns = view.columns, memberColumns = members?.columns ?? []
        let people = RawStatement(try db.makeStatement(sql: Self.select(view, range: range) + " ORDER BY customer_id"))
        let memberRows = try members.map {
            RawStatement(try db.makeStatement(sql: Self.select($0, range: range) + " ORDER BY customer_id, segment"))
        }
        try range.bind(people)
        try memberRows.map(range.bind)
        let viewID = Int32(viewColumns.firstIndex { $0.name == "customer_id" } ?? 0)
        let memberID = Int32(memberColumns.firstIndex { $0.name == "customer_id" } ?? 0)
        let hasher = try SHA256()
        var pending = try memberRows?.step("reading segment_members") ?? false
        while try people.step("reading single_view") {
            var person = Person(customerID: people.withText(viewID) { String(decoding: $0, as: UTF8.self) })
            let id = Array(person.customerID.utf8)
            Self.append(people, viewColumns, to: &person.view)
            if let memberRows {
                // Members of ids before this one have no row (cannot happen in a file a build wrote): skipped.
                while pending, memberRows.withText(memberID, { $0.lexicographicallyPrecedes(id) }) {
                    pending = try memberRows.step("reading segment_members")
                }
                while pending, memberRows.withText(memberID, { $0.elementsEqual(id) }) {
                    Self.append(memberRows, memberColumns, to: &person.members)
                    person.memberRows += 1
                    pending = try memberRows.step("reading segment_members")
                }
            }
            try hasher.reset()
            try hasher.update(person.view)
            try hasher.update(person.members)
            person.digest = try hasher.finalize()
            try body(person)
        }
    }

    /// The columns of `table`, in the remote table's order (of the people in `range`).
    private static func select(_ table: RemoteSchema.Table, range: Range = .all) -> String {
        "SELECT \(table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")) FROM \"\(table.source)\""
            + (range.condition.isEmpty ? "" : " WHERE " + range.condition)
    }

    /// All rows of a table, in ClickHouse's RowBinary format.
    package static func rows(of table: RemoteSchema.Table, in db: Database) throws -> [UInt8] {
        var out: [UInt8] = []
        let rows = RawStatement(try db.makeStatement(sql: select(table)))
        while try rows.step("reading \(table.source)") { append(rows, table.columns, to: &out) }
        return out
    }

    /// The current row in ClickHouse's RowBinary format, each value as its column's type reads it: a null flag byte
    /// before a `Nullable` value, 8 little-endian bytes for `Int64` and `Float64`, a LEB128 length before a `String`.
    static func append(_ row: RawStatement, _ columns: [RemoteSchema.Column], to out: inout [UInt8]) {
        for (index, column) in columns.enumerated() {
            let index = Int32(index), storage = row.storage(index)
            if column.nullable {
                if storage == .null {
                    out.append(1)
                    continue
                }
                out.append(0)
            }
            switch column.base {
            case .int64:
                // The builder writes INTEGER columns as integers; a real that strays here is cut to its whole part.
                let number: Int64 = switch storage {
                case .integer: row.int64(index)
                case .real: Int64(exactly: row.double(index).rounded(.towardZero)) ?? 0
                default: 0
                }
                withUnsafeBytes(of: number.littleEndian) { out += $0 }
            case .float64:
                let number: Double = switch storage {
                case .integer: Double(row.int64(index))
                case .real: row.double(index)
                default: 0
                }
                withUnsafeBytes(of: number.bitPattern.littleEndian) { out += $0 }
            case .string:
                switch storage {
                case .text: row.withText(index) { appendString($0, to: &out) }
                case .blob: row.withBlob(index) { appendString($0, to: &out) }
                case .integer: appendString(Array(String(row.int64(index)).utf8), to: &out)
                case .real: appendString(Array(String(row.double(index)).utf8), to: &out)
                case .null: out.append(0)
                }
            }
        }
    }

    /// A RowBinary `String`: its LEB128 length, then its bytes.
    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendString($0, to: &out) }
    }

    private static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var length = UInt64(bytes.count)
        repeat {
            out.append(UInt8(length & 0x7F) | (length > 0x7F ? 0x80 : 0))
            length >>= 7
        } while length > 0
        out += bytes
    }
}
