/// Splits a byte stream into records. Each reader is fed chunks in order and
/// hands back complete records; `finish()` returns what is left at the end.
protocol RecordSplitter {
    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows
    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows
}

/// JSON Lines: one record per line; blank lines are skipped.
struct LineSplitter: RecordSplitter {
    private var pending: [UInt8] = []
    private var line = 1
    private var offset = 0
    private var recordLine = 1
    private var recordOffset = 0

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            if byte == 0x0a {
                try flush(emit)
                line += 1
                offset += 1
                recordLine = line
                recordOffset = offset
            } else {
                pending.append(byte)
                offset += 1
            }
        }
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        try flush(emit)
    }

    private mutating func flush(_ emit: (SourceRecord) throws -> Void) rethrows {
        if pending.last == 0x0d { pending.removeLast() }
        if pending.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
            try emit(SourceRecord(line: recordLine, byteOffset: recordOffset, bytes: pending))
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// A JSON array of objects: each top-level element is a record. Tracks
/// strings and nesting byte by byte, so elements may span lines.
struct ArraySplitter: RecordSplitter {
    private var pending: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var started = false
    private var closed = false
    private var line = 1
    private var offset = 0
    private var recordLine = 1
    private var recordOffset = 0

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            defer {
                offset += 1
                if byte == 0x0a { line += 1 }
            }
            if !started {
                if byte == UInt8(ascii: "[") { started = true }
                continue
            }
            if closed { continue }
            if inString {
                pending.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                if pending.isEmpty { mark() }
                inString = true
                pending.append(byte)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if pending.isEmpty { mark() }
                depth += 1
                pending.append(byte)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 {
                    // The closing bracket of the top-level array.
                    try flush(emit)
                    closed = true
                } else {
                    depth -= 1
                    pending.append(byte)
                }
            case UInt8(ascii: ",") where depth == 0:
                try flush(emit)
            case 0x20, 0x09, 0x0a, 0x0d:
                if !pending.isEmpty { pending.append(byte) }
            default:
                if pending.isEmpty { mark() }
                pending.append(byte)
            }
        }
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        if !pending.isEmpty {
            try emit(SourceRecord(line: recordLine, byteOffset: recordOffset, bytes: pending,
                                  readError: "invalid JSON: the array ends before this element is complete"))
            pending.removeAll()
        }
    }

    private mutating func mark() {
        recordLine = line
        recordOffset = offset
    }

    private mutating func flush(_ emit: (SourceRecord) throws -> Void) rethrows {
        if !pending.isEmpty {
            try emit(SourceRecord(line: recordLine, byteOffset: recordOffset, bytes: pending))
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// RFC 4180 CSV: fields separated by a delimiter, optionally quoted with `"`
/// (a quoted field may hold delimiters, `""` and line breaks). Each record is
/// re-emitted as its raw bytes; `CSVFields.split` turns it into fields.
struct CSVSplitter: RecordSplitter {
    private var pending: [UInt8] = []
    private var inQuotes = false
    private var line = 1
    private var offset = 0
    private var recordLine = 1
    private var recordOffset = 0

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            offset += 1
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if byte == 0x0a && !inQuotes {
                try flush(emit)
                line += 1
                recordLine = line
                recordOffset = offset
                continue
            }
            if byte == 0x0a { line += 1 }
            pending.append(byte)
        }
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        if inQuotes && !pending.isEmpty {
            try emit(SourceRecord(line: recordLine, byteOffset: recordOffset, bytes: pending,
                                  readError: "unterminated quoted field: the file ends inside quotes"))
            pending.removeAll()
        } else {
            try flush(emit)
        }
    }

    private mutating func flush(_ emit: (SourceRecord) throws -> Void) rethrows {
        if pending.last == 0x0d { pending.removeLast() }
        if !pending.isEmpty {
            try emit(SourceRecord(line: recordLine, byteOffset: recordOffset, bytes: pending))
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// Splitting one CSV record into fields.
public enum CSVFields {
    /// The fields of one record; nil if its quoting is malformed.
    public static func split(_ bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var wasQuoted = false
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(byte)
                }
            } else if byte == delimiter {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                wasQuoted = false
            } else if byte == UInt8(ascii: "\"") {
                guard field.isEmpty, !wasQuoted else { return nil }
                inQuotes = true
                wasQuoted = true
            } else {
                if wasQuoted { return nil }  // text after a closing quote
                field.append(byte)
            }
            i += 1
        }
        if inQuotes { return nil }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }
}
