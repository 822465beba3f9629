import CofferFormats
import CofferStore

/// Joins the consecutive rows of one cart in a line-item CSV file (its mapping's
/// `line_items: group_by` column) into one record, the rows' bytes one per
/// line, which is parsed into one event with `products[]`.
///
/// A cart's rows must be consecutive, as a till writes them: a cart id met again
/// after other carts is refused with a reason (it would otherwise make a second
/// event with the first one's id, dropped as a duplicate).
struct LineItemGrouper {
    let column: Int
    let delimiter: UInt8
    private var current: (key: String, record: SourceRecord)?
    private var seen: Set<String> = []

    init(column: Int, delimiter: UInt8) {
        self.column = column
        self.delimiter = delimiter
    }

    mutating func add(_ record: SourceRecord, emit: (SourceRecord) throws -> Void) throws {
        guard record.readError == nil, let fields = CSVFields.split(record.bytes, delimiter: delimiter), column < fields.count else {
            // Parsing reports what is wrong with it, on its own.
            try finish(emit: emit)
            return try emit(record)
        }
        let key = fields[column].trimmedWhitespace
        if let open = current, open.key == key, !key.isEmpty {
            var joined = open.record
            joined.bytes += [0x0a] + record.bytes
            joined.length = record.byteOffset + record.length - joined.byteOffset
            current = (key, joined)
            return
        }
        try finish(emit: emit)
        if !key.isEmpty, !seen.insert(key).inserted {
            var refused = record
            refused.readError = "cart \(key) appears again after other carts: a cart's line items must be consecutive rows (sort the file by its cart column)"
            return try emit(refused)
        }
        current = (key, record)
    }

    /// Hands on the cart being read.
    mutating func finish(emit: (SourceRecord) throws -> Void) throws {
        if let open = current { try emit(open.record) }
        current = nil
    }

    /// The rows of a grouped record, each split into fields; nil when a row is malformed.
    static func rows(of bytes: [UInt8], delimiter: UInt8) -> [[String]]? {
        var splitter = CSVSplitter(delimiter: delimiter)
        var records: [SourceRecord] = []
        splitter.feed(bytes[...]) { records.append($0) }
        splitter.finish { records.append($0) }
        var rows: [[String]] = []
        for record in records where !record.bytes.isEmpty {
            guard record.readError == nil, let fields = CSVFields.split(record.bytes, delimiter: delimiter) else { return nil }
            rows.append(fields)
        }
        return rows
    }
}
