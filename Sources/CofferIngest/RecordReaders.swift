/// Splits a byte stream into records. Each reader is fed chunks in order and
/// hands back complete records; `finish()` returns what is left at the end.
protocol RecordSplitter {
    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows
    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows
}

/// The record being read: its bytes so far, and the line and byte offset of
/// its first byte. Shared by every splitter.
struct PendingRecord {
    private var bytes: [UInt8] = []
    private var line = 1, offset = 0
    private var startLine = 1, startOffset = 0

    var isEmpty: Bool { bytes.isEmpty }

    /// Adds a byte; the first byte added marks where the record starts.
    mutating func append(_ byte: UInt8) {
        if bytes.isEmpty {
            startLine = line
            startOffset = offset
        }
        bytes.append(byte)
    }

    /// Adds bytes that hold no line break, and moves the position past them.
    mutating func append(run: ArraySlice<UInt8>) {
        guard !run.isEmpty else { return }
        if bytes.isEmpty {
            startLine = line
            startOffset = offset
        }
        bytes.append(contentsOf: run)
        offset += run.count
    }

    /// Moves the position past a byte; call once for every byte read.
    mutating func advance(past byte: UInt8) {
        offset += 1
        if byte == 0x0a { line += 1 }
    }

    /// Hands the record on (without a trailing CR) unless it is only white
    /// space, and starts the next one.
    mutating func emit(_ emit: (SourceRecord) throws -> Void, readError: String? = nil) rethrows {
        if bytes.last == 0x0d { bytes.removeLast() }
        if bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a && $0 != 0x0d }) {
            try emit(SourceRecord(line: startLine, byteOffset: startOffset, bytes: bytes, readError: readError))
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// JSON Lines: one record per line; blank lines are skipped.
struct LineSplitter: RecordSplitter {
    private var record = PendingRecord()

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0a) {
            record.append(run: chunk[start..<newline])
            try record.emit(emit)
            record.advance(past: 0x0a)
            start = newline + 1
        }
        record.append(run: chunk[start...])
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        try record.emit(emit)
    }
}

/// A JSON array of objects: each top-level element is a record. Tracks
/// strings and nesting byte by byte, so elements may span lines.
struct ArraySplitter: RecordSplitter {
    private var record = PendingRecord()
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var started = false
    private var closed = false

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            defer { record.advance(past: byte) }
            if !started {
                if byte == UInt8(ascii: "[") { started = true }
                continue
            }
            if closed { continue }
            if inString {
                record.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                record.append(byte)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                record.append(byte)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 {
                    // The closing bracket of the top-level array.
                    try record.emit(emit)
                    closed = true
                } else {
                    depth -= 1
                    record.append(byte)
                }
            case UInt8(ascii: ",") where depth == 0:
                try record.emit(emit)
            case 0x20, 0x09, 0x0a, 0x0d:
                if !record.isEmpty { record.append(byte) }
            default:
                record.append(byte)
            }
        }
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        try record.emit(emit, readError: "invalid JSON: the array ends before this element is complete")
    }
}

/// RFC 4180 CSV: fields separated by a delimiter, optionally quoted with `"`
/// (a quoted field may hold delimiters, `""` and line breaks). Each record is
/// re-emitted as its raw bytes; `CSVFields.split` turns it into fields.
struct CSVSplitter: RecordSplitter {
    private var record = PendingRecord()
    private var inQuotes = false

    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if byte == 0x0a && !inQuotes { try record.emit(emit) } else { record.append(byte) }
            record.advance(past: byte)
        }
    }

    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        try record.emit(emit, readError: inQuotes ? "unterminated quoted field: the file ends inside quotes" : nil)
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
