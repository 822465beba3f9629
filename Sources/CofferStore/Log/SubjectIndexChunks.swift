import GRDB

/// How `SubjectIndex` keeps a run: its entries (a subject and its positions in
/// the run), in ascending subject order, packed into chunks of about
/// `chunkBytes` bytes, one row of `subject_chunks` per chunk, keyed by the
/// run and the chunk's first subject.
///
/// A row per entry made every appended event cost about two B-tree inserts
/// (one in its append's run, then one per merge); a chunk holds a hundred or
/// more entries, so the index's SQLite work is a hundredth of that and the
/// rest is encoding bytes in memory.
///
/// A chunk is its entries one after the other: the subject's 16 bytes, the
/// number of positions as a varint, then the positions as varint gaps (the
/// first from the run's first position, each next one from the one before).
extension SubjectIndex {
    /// A chunk is closed once it holds this many bytes (a subject's entry is never split).
    static let chunkBytes = 8_000

    private static func corrupt(_ reason: String) -> VaultError {
        VaultError.corruptFile(path: VaultLayout.databaseName, reason: "the subject index \(reason); run `coffer verify`")
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// The varint at `offset` in `bytes`, moving `offset` past it.
    static func readVarint(_ bytes: [UInt8], at offset: inout Int) throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            guard shift < 63 else { throw corrupt("holds an impossible entry") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw corrupt("holds a cut entry")
    }

    /// Packs one run's entries into chunks, handing each finished chunk to `emit`.
    struct RunWriter {
        let run: Int64
        private let emit: (_ first: SubjectID, _ entries: [UInt8]) throws -> Void
        private var bytes: [UInt8] = []
        private var first: SubjectID?
        private var last: SubjectID?

        init(run: Int64, emit: @escaping (_ first: SubjectID, _ entries: [UInt8]) throws -> Void) {
            self.run = run
            self.emit = emit
            bytes.reserveCapacity(chunkBytes + 1024)
        }

        /// A writer whose chunks go straight into `subject_chunks`.
        static func inserting(run: Int64, into db: Database) -> RunWriter {
            RunWriter(run: run) { try insertChunk(run: run, first: $0, entries: $1, in: db) }
        }

        /// Adds `subject`'s positions (ascending, none before `run`); subjects come in ascending order.
        mutating func add(_ subject: SubjectID, seqs: some Collection<Int64>) throws {
            precondition(last.map { $0 < subject } ?? true, "subject index entries out of order")
            if bytes.count >= chunkBytes { try flush() }
            if first == nil { first = subject }
            last = subject
            subject.withUnsafeBytes { bytes.append(contentsOf: $0) }
            appendVarint(UInt64(seqs.count), to: &bytes)
            var previous = run
            for seq in seqs {
                precondition(seq >= previous, "subject index positions out of order")
                appendVarint(UInt64(seq - previous), to: &bytes)
                previous = seq
            }
        }

        /// Emits the last chunk.
        mutating func finish() throws { try flush() }

        private mutating func flush() throws {
            guard let first else { return }
            try emit(first, bytes)
            bytes.removeAll(keepingCapacity: true)
            self.first = nil
        }
    }

    /// Reads the entries of one chunk in order, checking as it goes that they are well formed.
    struct ChunkDecoder {
        private let bytes: [UInt8]
        private let run: Int64
        private var offset = 0
        private var previous: SubjectID?

        init(_ bytes: [UInt8], run: Int64) {
            self.bytes = bytes
            self.run = run
        }

        private mutating func varint() throws -> UInt64 { try readVarint(bytes, at: &offset) }

        /// The next entry's subject, with its positions in `seqs` (replacing what it held); nil after the last.
        mutating func next(into seqs: inout [Int64]) throws -> SubjectID? {
            guard offset < bytes.count else { return nil }
            guard offset + SubjectID.byteCount <= bytes.count else { throw corrupt("holds a cut entry") }
            let subject = try bytes.withUnsafeBytes {
                try SubjectID(raw: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + SubjectID.byteCount)]))
            }
            offset += SubjectID.byteCount
            guard previous.map({ $0 < subject }) ?? true else { throw corrupt("lists subjects out of order") }
            previous = subject
            let count = try varint()
            // Every position takes at least a byte.
            guard count > 0, count <= UInt64(bytes.count - offset) else { throw corrupt("holds an impossible entry") }
            seqs.removeAll(keepingCapacity: true)
            var position = run
            for index in 0..<Int(count) {
                let gap = try varint()
                guard gap < UInt64(Int64.max), index == 0 || gap > 0 else { throw corrupt("holds an impossible entry") }
                let (sum, overflow) = position.addingReportingOverflow(Int64(gap))
                guard !overflow else { throw corrupt("holds an impossible entry") }
                position = sum
                seqs.append(position)
            }
            return subject
        }
    }

    /// Steps through one run's entries in subject order, chunk by chunk (a merge reads its runs side by side).
    final class RunReader {
        let run: Int64
        private let chunks: RawStatement
        private var decoder: ChunkDecoder?
        /// The current entry's subject (nil once the run is read) and its positions.
        private(set) var subject: SubjectID?
        private(set) var seqs: [Int64] = []

        init(run: Int64, in db: Database) throws {
            self.run = run
            // A statement of its own: a merge has several readers open at once.
            chunks = RawStatement(try db.makeStatement(sql: "SELECT first, entries FROM subject_chunks WHERE run = ? ORDER BY first"))
            try chunks.bind(1, run)
            try advance()
        }

        /// Moves to the next entry.
        func advance() throws {
            let previous = subject
            var next: SubjectID?
            if var current = decoder {
                next = try current.next(into: &seqs)
                decoder = next == nil ? nil : current
            }
            if next == nil {
                guard try chunks.step("reading the subject index") else {
                    subject = nil
                    chunks.reset()
                    return
                }
                var chunk = ChunkDecoder(chunks.blob(1), run: run)
                // The key must be the chunk's first subject: a lookup finds a subject's chunk by it.
                guard let first = try? SubjectID(bytes: chunks.blob(0)), try chunk.next(into: &seqs) == first else {
                    throw corrupt("has a chunk filed under another subject")
                }
                next = first
                decoder = chunk
            }
            guard let next, previous.map({ $0 < next }) ?? true else { throw corrupt("lists subjects out of order") }
            subject = next
        }

        /// Lets go of the statement (before the run's rows are deleted).
        func close() { chunks.reset() }
    }

    /// The chunk of `run` that would hold `subject` (the last whose first subject is not after it): its key and bytes.
    static func chunk(of subject: SubjectID, in run: Int64, _ db: Database) throws -> (first: SubjectID, entries: [UInt8])? {
        let select = RawStatement(try db.cachedStatement(sql: """
            SELECT first, entries FROM subject_chunks WHERE run = ? AND first <= ? ORDER BY first DESC LIMIT 1
            """))
        defer { select.reset() }
        try select.bind(1, run)
        try select.bind(2, subject: subject)
        guard try select.step("reading the subject index") else { return nil }
        guard let first = try? SubjectID(bytes: select.blob(0)) else { throw corrupt("has a chunk filed under another subject") }
        return (first, select.blob(1))
    }

    /// Writes one chunk of `run`.
    static func insertChunk(run: Int64, first: SubjectID, entries: [UInt8], in db: Database) throws {
        let insert = RawStatement(try db.cachedStatement(sql: "INSERT INTO subject_chunks(run, first, entries) VALUES (?, ?, ?)"))
        defer { insert.reset() }
        try insert.bind(1, run)
        try insert.bind(2, subject: first)
        try insert.bind(3, blob: entries)
        _ = try insert.step("writing the subject index")
    }
}
