import CofferCrypto
import CofferIngest
import CofferStore
import Foundation
import Testing

/// Issue 15, class 8: a backup holds every acknowledged batch, and a log that
/// lost batches (a copy without its WAL) is detected.
struct BackupTests {
    static let passphrase = SecureBytes(Array("ingest test passphrase".utf8))

    static func events(_ range: Range<Int>) -> String {
        range.map { #"{"type":"page","userId":"u\#($0)","messageId":"m\#($0)","timestamp":"2026-01-01T00:00:00Z"}"# }
            .joined(separator: "\n") + "\n"
    }

    @Test("coffer backup copies what is still only in the WAL, verifies the copy, and the copy opens")
    func backupIncludesTheWAL() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingest(try fixture.file("a.jsonl", Self.events(0..<500)))
        // A small import stays in the WAL (it is checkpointed every 64 MiB).
        let wal = try FileManager.default.attributesOfItem(atPath: fixture.layout.database.path + "-wal")[.size] as? Int ?? 0
        #expect(wal > 0)
        let destination = fixture.directory.appendingPathComponent("backup")
        let report = try fixture.vault.backup(to: destination)
        #expect(report.events == Int(try fixture.vault.logHead()))
        #expect(Set(report.files).isSuperset(of: ["vault.sqlite", "audit.sqlite", "keyslots.json"]))
        let copy = try Vault.unlock(layout: VaultLayout(directory: destination), passphrase: Self.passphrase)
        #expect(try copy.logHead() == fixture.vault.logHead())
        #expect(try copy.logCoverage().isComplete)
        try copy.verifySeals()
        // Not into a directory that holds something already.
        #expect(throws: VaultError.self) { try fixture.vault.backup(to: destination) }
        #expect(try fixture.vault.auditEntries(AuditFilter(action: .backup)).count == 1)
    }

    @Test("a vault.sqlite copied without its -wal has lost batches, and the audit ledger shows it")
    func lostWALIsDetected() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingest(try fixture.file("a.jsonl", Self.events(0..<100)))
        #expect(try fixture.vault.truncateWAL())  // the first 100 events reach vault.sqlite itself
        _ = try fixture.ingest(try fixture.file("b.jsonl", Self.events(100..<300)))  // these stay in the WAL
        #expect(try fixture.vault.logCoverage().isComplete)
        // What SECURITY.md used to advise: copy vault.sqlite (and keyslots.json) by hand.
        let copy = fixture.directory.appendingPathComponent("hand-copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let layout = VaultLayout(directory: copy)
        for (from, to) in [(fixture.layout.database, layout.database), (fixture.layout.keyslots, layout.keyslots)]
            + zip(fixture.layout.auditFiles, layout.auditFiles).filter({ FileManager.default.fileExists(atPath: $0.0.path) }) {
            try FileManager.default.copyItem(at: from, to: to)
        }
        let opened = try Vault.unlock(layout: layout, passphrase: Self.passphrase)
        let coverage = try opened.logCoverage()
        #expect(!coverage.isComplete)
        #expect(coverage.auditedThrough == 300 && coverage.logHead == 100)
    }
}
