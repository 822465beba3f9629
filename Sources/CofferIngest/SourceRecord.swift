package import CofferFormats

/// One raw record read from an input, with where it came from.
package struct SourceRecord: Sendable {
    /// 1-based line of the record's first byte.
    package var line: Int
    /// Byte offset of the record's first byte in the input.
    package var byteOffset: Int
    /// The record's bytes, as read.
    package var bytes: [UInt8]
    /// A reason this record is already known to be bad (e.g. a broken CSV quote), if any.
    package var readError: String?
    /// The record's length in the input; more than `bytes.count` when only a
    /// prefix was kept (a record over the size limit).
    package var length: Int
    /// The record already read as a JSON object, when whoever made it had (the
    /// inbox drain builds each event as an object): it is checked as is, and
    /// `bytes` are written from it only if it is refused, for the quarantine.
    package var object: JSONObject?

    package init(line: Int, byteOffset: Int, bytes: [UInt8], readError: String? = nil, length: Int? = nil) {
        self.line = line
        self.byteOffset = byteOffset
        self.bytes = bytes
        self.readError = readError
        self.length = length ?? bytes.count
    }
}

/// The input formats `coffer ingest` reads.
package enum InputFormat: String, Sendable, CaseIterable {
    /// Segment Spec events, one JSON object a line.
    case jsonl
    /// Segment Spec events in one JSON array.
    case json
    /// Comma-separated values with a header row, read through a column mapping.
    case csv
}
