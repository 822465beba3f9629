import CofferCrypto
import GRDB

/// A projection file's person tables read person by person, in `customer_id`
/// order: each person's digest (what tells an incremental publish whose rows
/// changed) and, for those to be sent, the TabSeparated lines ClickHouse takes.
struct PersonRows {
    /// One person: their digest (over their rows' values), how many segment rows they have, and, when
    /// asked for, their lines: their `single_view` row and their `segment_members` rows.
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

    /// Calls `body` for each person of the file, in `customer_id` (byte) order, with their lines
    /// when `lines` says so for their id (writing lines costs more than the digest).
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
            try Self.hash(row, into: hasher)
            if encode { person.view = Self.line(row, viewColumns) }
            // Members of ids before this one have no row (cannot happen in a file a build wrote): skipped.
            while let member = pending, let memberID = member[idColumn] as String?, memberID.utf8.lexicographicallyPrecedes(id.utf8) {
                pending = try memberRows?.next()
            }
            try hasher.update([0xFF])
            while let member = pending, (member[idColumn] as String?) == id {
                try Self.hash(member, into: hasher)
                person.memberRows += 1
                if encode { person.members += Self.line(member, memberColumns) }
                pending = try memberRows?.next()
            }
            person.digest = try hasher.finalize()
            try body(person)
        }
    }

    /// Feeds a row's values to `hasher`, each with its type and length.
    private static func hash(_ row: Row, into hasher: SHA256) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(row.count * 10)
        for index in 0..<row.count {
            let value: DatabaseValue = row[index]
            switch value.storage {
            case .null: bytes.append(0)
            case let .int64(number):
                bytes.append(1)
                withUnsafeBytes(of: number.littleEndian) { bytes += $0 }
            case let .double(number):
                bytes.append(2)
                withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes += $0 }
            case let .string(text):
                bytes.append(3)
                withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian) { bytes += $0 }
                bytes += text.utf8
            case let .blob(data):
                bytes.append(4)
                withUnsafeBytes(of: UInt32(data.count).littleEndian) { bytes += $0 }
                bytes += data
            }
        }
        try hasher.update(bytes)
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
