import CofferStore
import Foundation
import GRDB
import Synchronization

/// What the no-trace check found after an erasure. Findings name the file and
/// the kind of value, never the value.
package struct TraceCheck: Codable, Sendable, Equatable {
    /// Files read byte for byte (database, WAL, shm, projections, audit ledger, keyslots …).
    package var filesScanned: Int
    package var bytesScanned: Int
    /// Values searched for (identifiers, names, profile and event values).
    package var valuesSearched: Int
    /// Decrypted stores checked too: projections, quarantine, audit details, identity lookups, the person's log events.
    package var decryptedChecks: [String]
    package var findings: [String]
    package var clean: Bool { findings.isEmpty }
}

/// Searches raw bytes for many values at once, case-insensitively (ASCII), in
/// one pass: a table of the first two bytes of every needle rules out almost
/// every position, so the cost is one read of each file.
struct NeedleSearch {
    /// A value to look for and what it is (for the report: "email", "event value" …).
    struct Needle: Codable, Equatable {
        var bytes: [UInt8]
        var label: String
    }

    private let needles: [Needle]
    private var byPrefix: [Int: [Int]] = [:]
    /// 1 where some needle starts with that (lower-cased) byte pair.
    private var prefixTable = [UInt8](repeating: 0, count: 65536)
    private static let lowerTable: [UInt8] = (0...255).map { lower(UInt8($0)) }
    let longest: Int

    /// Shortest value searched in raw files. Ciphertext is random bytes, and a
    /// case-insensitive whole-word match of a 4-letter value turns up about once
    /// in 500 MiB by chance; of a 6-letter value, once in 5 TiB.
    static let rawMinimumLength = 6

    /// - Parameters:
    ///   - minimumLength: values shorter than this are not searched (see `rawMinimumLength`).
    ///   - vocabulary: text that is in clear by design (schema, kinds, purposes,
    ///     actor names); a value found in it is no evidence and is not searched.
    init(_ needles: [Needle], minimumLength: Int = 4, vocabulary: [UInt8] = []) {
        // Lower-cased, deduplicated.
        var seen = Set<[UInt8]>()
        let vocabulary = vocabulary.map(Self.lower)
        self.needles = needles.compactMap { needle in
            let lowered = needle.bytes.map(Self.lower)
            guard lowered.count >= max(minimumLength, 2), seen.insert(lowered).inserted, !vocabulary.containsBytes(lowered) else { return nil }
            return Needle(bytes: lowered, label: needle.label)
        }
        longest = self.needles.map(\.bytes.count).max() ?? 0
        for (index, needle) in self.needles.enumerated() {
            let prefix = Int(needle.bytes[0]) << 8 | Int(needle.bytes[1])
            byPrefix[prefix, default: []].append(index)
            prefixTable[prefix] = 1
        }
    }

    var count: Int { needles.count }

    @inline(__always) static func isWordByte(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }

    /// Labels of the needles found in `bytes`, each with the offset of its
    /// first match (only matches starting before `limit`).
    func find(in bytes: UnsafeRawBufferPointer, limit: Int? = nil) -> [String: Int] {
        var found: [String: Int] = [:]
        guard !needles.isEmpty, bytes.count >= 2, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return found }
        let end = min(limit ?? bytes.count, bytes.count - 1)
        Self.lowerTable.withUnsafeBufferPointer { lower in
            prefixTable.withUnsafeBufferPointer { table in
                var index = 0
                var previous = Int(lower[Int(base[0])])
                while index < end {
                    let next = Int(lower[Int(base[index + 1])])
                    let prefix = previous << 8 | next
                    previous = next
                    if table[prefix] != 0 { check(at: index, prefix: prefix, base: base, count: bytes.count, lower: lower, into: &found) }
                    index += 1
                }
            }
        }
        return found
    }

    /// Whether a needle with `prefix` matches whole at `index`.
    private func check(at index: Int, prefix: Int, base: UnsafePointer<UInt8>, count: Int, lower: UnsafeBufferPointer<UInt8>,
                       into found: inout [String: Int]) {
        for candidate in byPrefix[prefix] ?? [] {
            let needle = needles[candidate].bytes
            guard index + needle.count <= count else { continue }
            var match = true
            for offset in 2..<needle.count where lower[Int(base[index + offset])] != needle[offset] {
                match = false
                break
            }
            // Whole values only: a match inside a longer word or number is another value.
            if match, index == 0 || !Self.isWordByte(base[index - 1]),
               index + needle.count == count || !Self.isWordByte(base[index + needle.count]),
               found[needles[candidate].label] == nil {
                found[needles[candidate].label] = index
            }
        }
    }

    /// Labels of the needles found in `bytes`.
    func find(in bytes: [UInt8]) -> Set<String> {
        Set(bytes.withUnsafeBytes { find(in: $0) }.keys)
    }

    /// Searches files in 8 MiB chunks (overlapping by the longest needle), on
    /// every core: what each file contains (label → offset of a match), and its size.
    func find(inFiles urls: [URL]) throws -> [(found: [String: Int], bytes: Int)] {
        let chunk = 8 << 20
        var sizes: [Int] = []
        for url in urls {
            guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) else {
                throw VaultError.io(path: url.path, detail: "cannot be read for the no-trace check")
            }
            sizes.append(size)
        }
        let pieces = sizes.enumerated().flatMap { file, size in stride(from: 0, to: max(size, 1), by: chunk).map { (file, $0) } }
        let results = Mutex(ScanResults(files: urls.count))
        DispatchQueue.concurrentPerform(iterations: pieces.count) { piece in
            let (file, offset) = pieces[piece]
            do {
                let handle = try FileHandle(forReadingFrom: urls[file])
                defer { try? handle.close() }
                try handle.seek(toOffset: UInt64(offset))
                let data = try handle.read(upToCount: chunk + max(longest - 1, 0)) ?? Data()
                let found = data.withUnsafeBytes { find(in: $0, limit: chunk) }.mapValues { $0 + offset }
                results.withLock { $0.found[file].merge(found) { min($0, $1) } }
            } catch {
                results.withLock { $0.failure = VaultError.io(path: urls[file].path, detail: "cannot be read for the no-trace check: \(error)") }
            }
        }
        let (found, failure) = results.withLock { ($0.found, $0.failure) }
        if let failure { throw failure }
        return Array(zip(found, sizes))
    }
}

/// What the chunks of a parallel scan found, filled in under a mutex.
private struct ScanResults {
    var found: [[String: Int]]
    var failure: (any Error)?

    init(files: Int) { found = Array(repeating: [:], count: files) }
}

/// Where in a SQLite file (or its WAL) a byte offset lies: the page, and the
/// table or index that owns the page, so a DPO can judge a finding (a clear
/// column by design, or a leak) without the value being repeated.
struct PageLocator {
    private let pageSize: Int
    private var owners: [Int: String] = [:]

    /// Reads the page map of `database` through SQLite's `dbstat` (when built in).
    init(database: DatabaseQueue) {
        pageSize = (try? database.read { try Int.fetchOne($0, sql: "PRAGMA page_size") }) ?? 4096
        if let rows = try? database.read({ try Row.fetchAll($0, sql: "SELECT pageno, name FROM dbstat") }) {
            for row in rows { owners[row[0]] = row[1] }
        }
    }

    /// "page P, table T" for an offset in the database file or its WAL.
    func describe(offset: Int, inWAL: Bool, file: URL) -> String {
        var page: Int
        if inWAL {
            // WAL: a 32-byte header, then frames of a 24-byte header (page number first, big-endian) and a page.
            let frame = max(offset - 32, 0) / (24 + pageSize)
            page = 0
            if let handle = try? FileHandle(forReadingFrom: file) {
                defer { try? handle.close() }
                if (try? handle.seek(toOffset: UInt64(32 + frame * (24 + pageSize)))) != nil,
                   let header = try? handle.read(upToCount: 4), header.count == 4 {
                    page = header.reduce(0) { $0 << 8 | Int($1) }
                }
            }
            return "WAL frame \(frame + 1), page \(page)" + (owners[page].map { ", \(Self.kind($0)) \($0)" } ?? "")
        }
        page = offset / pageSize + 1
        return "page \(page)" + (owners[page].map { ", \(Self.kind($0)) \($0)" } ?? ", a free or overflow page")
    }

    private static func kind(_ name: String) -> String {
        name.hasPrefix("sqlite_autoindex") || name.contains("_by_") ? "index" : "table"
    }
}
