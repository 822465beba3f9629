/// Splits a byte stream into records. Each reader is fed chunks in order and
/// hands back complete records; `finish()` returns what is left at the end.
///
/// Every byte of the input is accounted for: it belongs to a record (good or
/// bad), is white space or a separator, or is counted in `unattributed`.
/// A malformed record never swallows the records after it: each splitter
/// resynchronises at the next point where a record can start.
package protocol RecordSplitter {
    mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows
    mutating func finish(emit: (SourceRecord) throws -> Void) rethrows
    /// Bytes that belong to no record (e.g. text outside a JSON array).
    var unattributed: UnattributedBytes { get }
}

/// Bytes of an input that belong to no record: reported, never silently dropped.
package struct UnattributedBytes: Sendable, Equatable {
    /// How many bytes.
    package var count = 0
    /// The line of the first such byte.
    package var firstLine: Int?

    package init() {}

    mutating func add(_ bytes: Int = 1, line: Int) {
        count += bytes
        if firstLine == nil { firstLine = line }
    }

    mutating func add(_ other: UnattributedBytes) {
        count += other.count
        if firstLine == nil { firstLine = other.firstLine }
    }
}

/// The record being read: its bytes so far (at most `limit` are kept, so one
/// huge record cannot exhaust memory), its full length, and the line and byte
/// offset of its first byte. Shared by every splitter.
struct PendingRecord {
    /// Bytes kept of one record: Segment's 32 KB event limit. A longer record is
    /// rejected whole, and the quarantine keeps this much of it.
    static let defaultLimit = SegmentParser.maxEventBytes

    let limit: Int
    private(set) var bytes: [UInt8] = []
    /// The record's length in the input, kept or not.
    private(set) var length = 0
    /// Position of the next byte.
    private(set) var line = 1, offset = 0
    private(set) var startLine = 1, startOffset = 0
    private var afterCR = false

    init(limit: Int = PendingRecord.defaultLimit) {
        self.limit = limit
    }

    var isEmpty: Bool { length == 0 }

    /// Adds a byte; the first byte added marks where the record starts.
    mutating func append(_ byte: UInt8) {
        if length == 0 {
            startLine = line
            startOffset = offset
        }
        if bytes.count < limit { bytes.append(byte) }
        length += 1
    }

    /// Adds bytes that hold no line break, and moves the position past them.
    mutating func append(run: ArraySlice<UInt8>) {
        guard !run.isEmpty else { return }
        if length == 0 {
            startLine = line
            startOffset = offset
        }
        let room = limit - bytes.count
        if room > 0 { bytes.append(contentsOf: run.prefix(room)) }
        length += run.count
        offset += run.count
        afterCR = false
    }

    /// Moves the position past a byte; call once for every byte read. LF, CR
    /// and CR LF each end a line.
    mutating func advance(past byte: UInt8) {
        offset += 1
        if byte == 0x0d || (byte == 0x0a && !afterCR) { line += 1 }
        afterCR = byte == 0x0d
    }

    /// Hands the record on (without a trailing CR) unless it is only white
    /// space, and starts the next one. A record over the limit is handed on
    /// with a read error and its first `limit` bytes.
    mutating func emit(_ emit: (SourceRecord) throws -> Void, readError: String? = nil) rethrows {
        let whole = length == bytes.count
        if whole, bytes.last == 0x0d { bytes.removeLast() }
        if !whole || bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a && $0 != 0x0d }) {
            let error = whole ? readError : Self.tooLarge
            try emit(SourceRecord(line: startLine, byteOffset: startOffset, bytes: bytes, readError: error, length: length))
        }
        bytes.removeAll(keepingCapacity: true)
        length = 0
    }

    static let tooLarge = "event larger than 32 KB (the quarantine keeps its first 32 KB)"

    /// Drops the record's bytes from `index` on and moves the position back to
    /// where they started, so they can be read again (after the record's first
    /// line turned out to be broken). Only valid while every byte is kept.
    mutating func rewind(keeping index: Int, restartLine: Int, restartOffset: Int) {
        bytes.removeSubrange(index...)
        length = bytes.count
        line = restartLine
        offset = restartOffset
        afterCR = false
    }
}

private func isJSONSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d }

/// JSON Lines: one record per line (LF, CR LF or CR); blank lines are skipped.
package struct LineSplitter: RecordSplitter {
    private var record = PendingRecord()
    /// The last chunk ended on a CR: an LF that starts the next belongs to it.
    private var pendingLF = false

    package init() {}

    package var unattributed: UnattributedBytes { UnattributedBytes() }

    package mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        var start = chunk.startIndex
        if pendingLF, start < chunk.endIndex {
            pendingLF = false
            if chunk[start] == 0x0a {
                record.advance(past: 0x0a)
                start += 1
            }
        }
        while let lineBreak = chunk[start...].firstIndex(where: { $0 == 0x0a || $0 == 0x0d }) {
            record.append(run: chunk[start..<lineBreak])
            try record.emit(emit)
            let byte = chunk[lineBreak]
            record.advance(past: byte)
            start = lineBreak + 1
            if byte == 0x0d {
                if start == chunk.endIndex {
                    pendingLF = true
                } else if chunk[start] == 0x0a {
                    record.advance(past: 0x0a)
                    start += 1
                }
            }
        }
        record.append(run: chunk[start...])
    }

    package mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        try record.emit(emit)
    }
}

/// A JSON array of objects: each top-level element is a record. Tracks
/// strings and nesting byte by byte, so elements may span lines.
///
/// It resynchronises after a broken element: a stray or mismatched bracket
/// marks the element bad up to the next top-level comma, and an object that
/// never closes ends where a `{` stands where a key must (the next element).
/// Text before the `[` or after the `]` is counted as unattributed.
package struct ArraySplitter: RecordSplitter {
    package init() {}

    /// Nesting deeper than this is refused (the JSON reader allows 512).
    static let maxDepth = 1024

    private var record = PendingRecord()
    private var stack: [UInt8] = []
    private var tooDeep = 0
    private var inString = false
    private var escaped = false
    private var started = false
    private var closed = false
    private var closeLine = 0
    /// In an object, after `{` or `,`: only a key or `}` may come.
    private var expectingKey = false
    /// Why the current element is malformed, once known.
    private var broken: String?
    package private(set) var unattributed = UnattributedBytes()

    static let unbalanced = "invalid JSON: unbalanced brackets"
    static let unclosed = "invalid JSON: the element ends before its braces are closed"

    package mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            defer { record.advance(past: byte) }
            if !started {
                if byte == UInt8(ascii: "[") {
                    started = true
                } else if !isJSONSpace(byte) && !(record.offset < 3 && [0xef, 0xbb, 0xbf].contains(byte)) {
                    unattributed.add(line: record.line)
                }
                continue
            }
            if closed {
                if isJSONSpace(byte) { continue }
                // More after the `]`: that bracket was stray, and the array goes on.
                unattributed.add(line: closeLine)
                closed = false
            }
            if inString {
                record.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            try step(byte, emit: emit)
        }
    }

    private mutating func step(_ byte: UInt8, emit: (SourceRecord) throws -> Void) rethrows {
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            expectingKey = false
            record.append(byte)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if byte == UInt8(ascii: "{"), expectingKey, stack.last == UInt8(ascii: "{") {
                // A `{` where a key must stand: the element before never closed, and this starts the next.
                try emitElement(emit, error: broken ?? Self.unclosed)
            } else if stack.isEmpty, !record.isEmpty {
                // A new value right after a complete one (a missing comma): the first stands on its own.
                try emitElement(emit, error: broken)
            }
            if stack.count < Self.maxDepth {
                stack.append(byte)
            } else {
                tooDeep += 1
                broken = broken ?? "invalid JSON: nested more than \(Self.maxDepth) levels"
            }
            expectingKey = byte == UInt8(ascii: "{")
            record.append(byte)
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            let opener = byte == UInt8(ascii: "}") ? UInt8(ascii: "{") : UInt8(ascii: "[")
            expectingKey = false
            if tooDeep > 0 {
                tooDeep -= 1
                record.append(byte)
            } else if stack.isEmpty {
                if byte == UInt8(ascii: "]") {
                    // The closing bracket of the top-level array (unless more follows).
                    try emitElement(emit, error: broken)
                    closed = true
                    closeLine = record.line
                } else {
                    broken = broken ?? Self.unbalanced
                    record.append(byte)
                }
            } else if stack.last == opener {
                stack.removeLast()
                record.append(byte)
            } else {
                broken = broken ?? Self.unbalanced
                if let open = stack.lastIndex(of: opener) { stack.removeSubrange(open...) }
                record.append(byte)
            }
        case UInt8(ascii: ","):
            if stack.isEmpty && tooDeep == 0 {
                try emitElement(emit, error: broken)
            } else {
                expectingKey = stack.last == UInt8(ascii: "{")
                record.append(byte)
            }
        case 0x20, 0x09, 0x0a, 0x0d:
            if !record.isEmpty { record.append(byte) }
        default:
            expectingKey = false
            record.append(byte)
        }
    }

    private mutating func emitElement(_ emit: (SourceRecord) throws -> Void, error: String?) rethrows {
        try record.emit(emit, readError: error)
        stack.removeAll(keepingCapacity: true)
        tooDeep = 0
        broken = nil
        expectingKey = false
    }

    package mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        let incomplete = inString || !stack.isEmpty || tooDeep > 0
        try record.emit(emit, readError: broken ?? (incomplete ? "invalid JSON: the array ends before this element is complete" : nil))
    }
}

/// RFC 4180 CSV: fields separated by a delimiter, optionally quoted with `"`
/// (a quoted field may hold delimiters, `""` and line breaks). Each record is
/// re-emitted as its raw bytes; `CSVFields.split` turns it into fields.
///
/// A quote opens a quoted field only at the start of a field; elsewhere it is
/// malformed text that `CSVFields.split` rejects, and it does not change how
/// lines split. A quoted field that is still open at the end of the input or
/// after 32 KB is taken as broken: its record's first line is handed on as
/// malformed, and the bytes after that line are read again as new records.
package struct CSVSplitter: RecordSplitter {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted, overlong }

    private var record = PendingRecord()
    private let delimiter: UInt8
    private var state = State.fieldStart
    private var pendingLF = false
    /// Bytes to read again after a resynchronisation, and where reading is in them.
    private var replay: [UInt8] = []
    private var replayIndex = 0

    package var unattributed: UnattributedBytes { UnattributedBytes() }

    static let unterminated = "unterminated quoted field: the quote opened on this line never closes"

    package init(delimiter: UInt8 = UInt8(ascii: ",")) {
        self.delimiter = delimiter
    }

    package mutating func feed(_ chunk: ArraySlice<UInt8>, emit: (SourceRecord) throws -> Void) rethrows {
        for byte in chunk {
            try step(byte, emit: emit)
            try drainReplay(emit: emit)
        }
    }

    private mutating func drainReplay(emit: (SourceRecord) throws -> Void) rethrows {
        while replayIndex < replay.count {
            let byte = replay[replayIndex]
            replayIndex += 1
            try step(byte, emit: emit)
        }
        replay.removeAll(keepingCapacity: true)
        replayIndex = 0
    }

    private mutating func step(_ byte: UInt8, emit: (SourceRecord) throws -> Void) rethrows {
        if pendingLF {
            pendingLF = false
            if byte == 0x0a {
                record.advance(past: byte)
                return
            }
        }
        switch state {
        case .quoted:
            record.append(byte)
            record.advance(past: byte)
            if byte == UInt8(ascii: "\"") { state = .quoteInQuoted }
            if record.length >= record.limit { try resynchronise(emit: emit) }
            return
        case .quoteInQuoted where byte == UInt8(ascii: "\""):
            record.append(byte)
            record.advance(past: byte)
            state = .quoted
            return
        default:
            break
        }
        if byte == 0x0a || byte == 0x0d {
            try record.emit(emit)
            record.advance(past: byte)
            state = .fieldStart
            pendingLF = byte == 0x0d
            return
        }
        record.append(byte)
        record.advance(past: byte)
        if state == .overlong { return }
        if byte == delimiter {
            state = .fieldStart
        } else if byte == UInt8(ascii: "\"") && state == .fieldStart {
            state = .quoted
        } else {
            state = .unquoted
        }
    }

    /// A quoted field is still open at the limit or the end: hands the record's
    /// first line on as malformed and queues the rest to be read again. With no
    /// line break to cut at, the line is one overlong record up to its end.
    private mutating func resynchronise(emit: (SourceRecord) throws -> Void) rethrows {
        let bytes = record.bytes
        guard record.length == bytes.count,
              let cut = bytes.firstIndex(where: { $0 == 0x0a || $0 == 0x0d }) else {
            state = .overlong
            return
        }
        var resume = cut + 1
        if bytes[cut] == 0x0d, resume < bytes.count, bytes[resume] == 0x0a { resume += 1 }
        let line = record.startLine + 1, offset = record.startOffset + resume
        let rest = Array(bytes[resume...])
        record.rewind(keeping: cut, restartLine: line, restartOffset: offset)
        try record.emit(emit, readError: Self.unterminated)
        state = .fieldStart
        pendingLF = false
        replay = rest + replay[replayIndex...]
        replayIndex = 0
    }

    package mutating func finish(emit: (SourceRecord) throws -> Void) rethrows {
        while state == .quoted {
            try resynchronise(emit: emit)
            if state == .overlong { break }
            try drainReplay(emit: emit)
        }
        try record.emit(emit, readError: state == .overlong ? Self.unterminated : nil)
        state = .fieldStart
    }
}

/// Splitting one CSV record into fields.
package enum CSVFields {
    /// The fields of one record; nil if its quoting is malformed.
    package static func split(_ bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) -> [String]? {
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
