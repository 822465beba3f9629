import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing

/// `coffer verify` must catch every way an attacker with the files can change history.
struct LogVerifierTests {
    /// A vault with 30 events in three appends (checkpoints at 10, 20, 30).
    private func populated() throws -> TemporaryVault {
        let tmp = try TemporaryVault()
        let log = try tmp.create().eventLog()
        let subjects = try (0..<5).map { _ in try SubjectID.random() }
        for _ in 0..<3 { try log.append(sampleEvents(subjects: subjects, perSubject: 2)) }
        return tmp
    }

    @Test("an untouched log verifies with its counts")
    func intact() throws {
        let tmp = try populated()
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.isValid)
        #expect(report.eventCount == 30 && report.checkpointCount == 3 && report.headSeq == 30)
    }

    @Test("a flipped byte in a ciphertext is reported at its seq")
    func flippedCiphertext() throws {
        let tmp = try populated()
        try tmp.attacker().write { db in
            var sealed = try Data.fetchOne(db, sql: "SELECT ciphertext FROM events WHERE seq = 17")!
            sealed[3] ^= 0x01
            try db.execute(sql: "UPDATE events SET ciphertext = ? WHERE seq = 17", arguments: [sealed])
        }
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.failure?.seq == 17)
        #expect(report.failure?.reason.contains("altered") == true)
    }

    @Test("every column of a row is covered", arguments: ["recorded_at", "subject_id", "kind", "key_version", "nonce"])
    func everyColumn(_ column: String) throws {
        let tmp = try populated()
        try tmp.attacker().write { db in
            switch column {
            case "recorded_at", "key_version": try db.execute(sql: "UPDATE events SET \(column) = \(column) + 1 WHERE seq = 5")
            case "kind": try db.execute(sql: "UPDATE events SET kind = 'page' WHERE seq = 5")
            default:
                var blob = try Data.fetchOne(db, sql: "SELECT \(column) FROM events WHERE seq = 5")!
                blob[0] ^= 0x80
                try db.execute(sql: "UPDATE events SET \(column) = ? WHERE seq = 5", arguments: [blob])
            }
        }
        #expect(try LogVerifier.verify(layout: tmp.layout).failure?.seq == 5)
    }

    @Test("a deleted row is reported at the missing seq")
    func deletedRow() throws {
        let tmp = try populated()
        try tmp.attacker().write { try $0.execute(sql: "DELETE FROM events WHERE seq = 12") }
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.failure?.seq == 12)
        #expect(report.failure?.reason.contains("missing") == true)
    }

    @Test("reordered rows are reported at the first moved seq")
    func reorderedRows() throws {
        let tmp = try populated()
        try tmp.attacker().write { db in
            // Swap the contents of events 8 and 9, keeping their seq numbers.
            let columns = "recorded_at, subject_id, kind, key_version, nonce, ciphertext, prev_hash, hash"
            try db.execute(sql: "CREATE TEMP TABLE swap AS SELECT seq, \(columns) FROM events WHERE seq IN (8, 9)")
            for (target, source) in [(8, 9), (9, 8)] {
                for column in columns.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    try db.execute(sql: "UPDATE events SET \(column) = (SELECT \(column) FROM swap WHERE seq = \(source)) WHERE seq = \(target)")
                }
            }
        }
        #expect(try LogVerifier.verify(layout: tmp.layout).failure?.seq == 8)
    }

    @Test("a truncated tail is caught by the last signed checkpoint")
    func truncatedTail() throws {
        let tmp = try populated()
        try tmp.attacker().write { try $0.execute(sql: "DELETE FROM events WHERE seq > 26") }
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.failure?.seq == 27)
        #expect(report.failure?.reason.contains("truncated") == true)
    }

    @Test("truncation to an earlier signed state is caught against a head the auditor kept")
    func truncatedWithCheckpoints() throws {
        let tmp = try populated()
        let kept = try LogVerifier.verify(layout: tmp.layout)
        let head = ExpectedHead(seq: kept.headSeq, hash: kept.headHash)
        #expect(ExpectedHead(text: head.text) == head)
        try tmp.attacker().write { db in
            try db.execute(sql: "DELETE FROM events WHERE seq > 20")
            try db.execute(sql: "DELETE FROM checkpoints WHERE seq > 20")
        }
        // The subject index still lists the cut events…
        #expect(try LogVerifier.verify(layout: tmp.layout).failure?.reason.contains("subject index") == true)
        // …until the attacker rewinds it too (appends of 10: the third run starts at 21).
        try tmp.attacker().write { db in
            try db.execute(sql: "DELETE FROM subject_chunks WHERE run > 20; DELETE FROM subject_run_list WHERE run > 20")
        }
        #expect(try LogVerifier.verify(layout: tmp.layout).isValid)  // undetectable without an outside anchor…
        let report = try LogVerifier.verify(layout: tmp.layout, expectedHead: head)
        #expect(report.failure?.reason.contains("truncated") == true)  // …caught with one.
    }

    @Test("an altered row with the whole chain recomputed is caught by the checkpoint signature")
    func rewrittenChain() throws {
        let tmp = try populated()
        try tmp.attacker().write { db in
            let sha = try SHA256()
            var previous = try Data.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = 13").map { Array($0) }!
            for row in try Row.fetchAll(db, sql: "SELECT * FROM events WHERE seq >= 14 ORDER BY seq") {
                var ciphertext: Data = row["ciphertext"]
                if (row["seq"] as Int64) == 14 { ciphertext[0] ^= 0xff }
                let chainRow = LogChain.Row(seq: row["seq"], recordedAt: row["recorded_at"],
                                            subjectID: Array(row["subject_id"] as Data), kind: row["kind"],
                                            keyVersion: UInt32(row["key_version"] as Int64),
                                            nonce: Array(row["nonce"] as Data), ciphertext: Array(ciphertext))
                let hash = try LogChain.hash(previous: previous, row: chainRow, using: sha)
                try db.execute(sql: "UPDATE events SET ciphertext = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                               arguments: [ciphertext, Data(previous), Data(hash), row["seq"] as Int64])
                previous = hash
            }
        }
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.failure?.seq == 11)  // first event after the last good checkpoint (10)
        #expect(report.failure?.reason.contains("checkpoint") == true)
    }

    @Test("events appended outside coffer (no signed checkpoint) are reported")
    func unsignedTail() throws {
        let tmp = try populated()
        try tmp.attacker().write { db in
            try db.execute(sql: "DELETE FROM checkpoints WHERE seq = 30")
        }
        let report = try LogVerifier.verify(layout: tmp.layout)
        #expect(report.failure?.seq == 21)
        #expect(report.failure?.reason.contains("not covered") == true)
    }

    @Test("a forged checkpoint signature or a swapped public key is caught")
    func forgedSignature() throws {
        let tmp = try populated()
        let genuineKey = try Vault.checkpointPublicKey(layout: tmp.layout)
        try tmp.attacker().write { db in
            var signature = try Data.fetchOne(db, sql: "SELECT signature FROM checkpoints WHERE seq = 20")!
            signature[10] ^= 0x01
            try db.execute(sql: "UPDATE checkpoints SET signature = ? WHERE seq = 20", arguments: [signature])
        }
        #expect(try LogVerifier.verify(layout: tmp.layout).failure?.seq == 20)

        let other = try Ed25519.PrivateKey.generate().publicKey
        try tmp.attacker().write { try VaultMeta.set($0, VaultMeta.checkpointPublicKey, other.rawRepresentation) }
        let pinned = try LogVerifier.verify(layout: tmp.layout, pinnedKey: genuineKey)
        #expect(pinned.failure?.reason.contains("pinned") == true)
        // And the owner's unlock notices the stored key no longer matches the master key.
        #expect(throws: VaultError.self) { try tmp.unlock() }
    }
}
