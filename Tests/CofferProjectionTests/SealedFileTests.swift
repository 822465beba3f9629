import CofferCrypto
@testable import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing

/// Sealed files written in pieces (projection images, the build state): the same file as
/// one sealing of the whole, and nothing at all until committed.
struct SealedFileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-sealed-\(UUID().uuidString)")
    let magic = Array("TST1".utf8), aad = Array("context".utf8)

    @Test("a file streamed in pieces across the piece size reads back whole, under its key and associated data only")
    func streamedReadsBack() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = try SymmetricKey(copying: [UInt8](repeating: 3, count: 32))
        let url = directory.appendingPathComponent("state.enc")
        // 2.5 pieces, written in uneven parts.
        let plaintext = (0..<(SealedFile.Stream.piece * 5 / 2)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let stream = try SealedFile.Stream(to: url, magic: magic, key: key, authenticating: aad)
        var start = 0
        for length in [1, 700_000, SealedFile.Stream.piece, 0, 3] + [plaintext.count] {
            let end = min(start + length, plaintext.count)
            try plaintext[start..<end].withUnsafeBytes { try stream.write($0) }
            start = end
        }
        let size = try stream.commit()
        #expect(size == magic.count + AESGCM.nonceByteCount + plaintext.count + AESGCM.tagByteCount)
        #expect(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int == size)
        #expect(try SealedFile.read(url, magic: magic, key: key, authenticating: aad) == plaintext)
        #expect(throws: SealedFile.ReadError.authenticationFailed) {
            try SealedFile.read(url, magic: magic, key: key, authenticating: Array("other".utf8))
        }
        let other = try SymmetricKey(copying: [UInt8](repeating: 4, count: 32))
        #expect(throws: SealedFile.ReadError.authenticationFailed) { try SealedFile.read(url, magic: magic, key: other, authenticating: aad) }
    }

    @Test("a stream dropped before its commit leaves the previous file as it was and no temporary file")
    func droppedStreamLeavesNothing() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = try SymmetricKey(copying: [UInt8](repeating: 5, count: 32))
        let url = directory.appendingPathComponent("view.enc")
        let old: [UInt8] = Array("the previous build".utf8)
        _ = try old.withUnsafeBytes { try SealedFile.write($0, magic: magic, key: key, authenticating: aad, to: url) }
        do {
            let stream = try SealedFile.Stream(to: url, magic: magic, key: key, authenticating: aad)
            try [UInt8](repeating: 9, count: 1000).withUnsafeBytes { try stream.write($0) }
            // Dropped here, as when an error ends a build between two pieces.
        }
        #expect(try SealedFile.read(url, magic: magic, key: key, authenticating: aad) == old)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["view.enc"])
    }

    @Test("a projection database in one buffer grows past many pages, is sealed from that buffer, and opens back the same; no plaintext on disk")
    func contiguousDatabaseSealsAndOpens() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = try SymmetricKey(copying: [UInt8](repeating: 6, count: 32))
        let url = directory.appendingPathComponent("analytics.owner.enc")
        let vaultID = [UInt8](repeating: 7, count: 16)
        let queue = try ProjectionFile.makeMemoryDatabase()
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA page_size = 16384") }
        // ~6 MiB of rows: the buffer is grown many times over, as a build's files are.
        let marker = "plain-marker-"
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE single_view (customer_id TEXT PRIMARY KEY NOT NULL, note TEXT) WITHOUT ROWID")
            for row in 0..<20_000 {
                try db.execute(sql: "INSERT INTO single_view VALUES (?, ?)", arguments: ["C\(row)", marker + String(repeating: "x", count: 280)])
            }
        }
        let written = try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! * 16_384 }
        #expect(written > 5_000_000)
        let size = try ProjectionFile.write(queue, to: url, key: key, vaultID: vaultID, purpose: "analytics", role: .owner)
        // The whole image was sealed: the file is the database's pages, the magic, nonce and tag.
        #expect(size == written + ProjectionFile.magic.count + AESGCM.nonceByteCount + AESGCM.tagByteCount)
        let sealed = try Data(contentsOf: url)
        #expect(sealed.range(of: Data(marker.utf8)) == nil && sealed.range(of: Data("SQLite format 3".utf8)) == nil)
        let opened = try ProjectionFile.open(url, key: key, vaultID: vaultID, purpose: "analytics", role: .owner)
        let (count, sample) = try opened.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM single_view")!,
             try String.fetchOne(db, sql: "SELECT note FROM single_view WHERE customer_id = 'C19999'"))
        }
        #expect(count == 20_000 && sample == marker + String(repeating: "x", count: 280))
        #expect(try opened.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
    }
}
