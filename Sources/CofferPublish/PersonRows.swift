import CofferCrypto
import GRDB

/// A projection file's person tables read person by person, in `customer_id`
/// order, as the TabSeparated lines ClickHouse is sent, each person with a
/// digest of their lines: what tells an incremental publish whose rows changed.
struct PersonRows {
    /// One person's lines: their `single_view` row and their `segment_members` rows.
    struct Person {
        var customerID: String
        var view: [UInt8]
        var members: [UInt8]

        func digest() throws -> [UInt8] { try SHA256.hash(view + [0] + members) }
    }

    let schema: RemoteSchema

    private var view: RemoteSchema.Table? { schema.tables.first { $0.source == "single_view" } }
    private var members: RemoteSchema.Table? { schema.tables.first { $0.source == "segment_members" } }

    /// Calls `body` for each person of the file, in `customer_id` (byte) order.
    func forEach(in db: Database, _ body: (Person) throws -> Void) throws {
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
        var pending: Row? = try memberRows?.next()
        while let row = try rows.next() {
            let id: String = row["customer_id"]
            var person = Person(customerID: id, view: Self.line(row, viewColumns), members: [])
            // Members of ids before this one have no row (cannot happen in a file a build wrote): skipped.
            while let member = pending, let memberID = member[idColumn] as String?, memberID.utf8.lexicographicallyPrecedes(id.utf8) {
                pending = try memberRows?.next()
            }
            while let member = pending, (member[idColumn] as String?) == id {
                person.members += Self.line(member, memberColumns)
                pending = try memberRows?.next()
            }
            try body(person)
        }
    }

    /// All rows of a shared table, as TabSeparated lines.
    static func lines(of table: RemoteSchema.Table, in db: Database) throws -> [UInt8] {
        var out: [UInt8] = []
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")) FROM \"\(table.source)\"")
        while let row = try cursor.next() { out += line(row, table.columns) }
        return out
    }

    /// One row as a TabSeparated line, each value written as its column's ClickHouse type reads it.
    static func line(_ row: Row, _ columns: [RemoteSchema.Column]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(columns.count * 8)
        for (index, column) in columns.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "\t")) }
            let value: DatabaseValue = row[index]
            let base = column.type.hasPrefix("Nullable(") ? String(column.type.dropFirst(9).dropLast()) : column.type
            switch (value.storage, base) {
            case (.null, _):
                // A NULL in a column declared NOT NULL would be refused remotely: written as the type's empty value.
                if column.type.hasPrefix("Nullable(") { out += TabSeparated.null } else if base != "String" { out.append(UInt8(ascii: "0")) }
            case let (.int64(number), "Float64"): out += Array(String(Double(number)).utf8)
            case let (.int64(number), _): out += Array(String(number).utf8)
            case let (.double(number), "Int64") where number.rounded() == number && abs(number) < 9.2e18:
                out += Array(String(Int64(number)).utf8)
            case let (.double(number), "String"): TabSeparated.append(String(number), to: &out)
            case let (.double(number), _): out += Array(String(number).utf8)
            case let (.string(text), _): TabSeparated.append(text, to: &out)
            case let (.blob(data), _): TabSeparated.append(String(decoding: data, as: UTF8.self), to: &out)
            }
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }
}
