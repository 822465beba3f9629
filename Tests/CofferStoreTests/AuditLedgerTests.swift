import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import XCTest

final class AuditLedgerTests: XCTestCase {
    /// A vault whose ledger holds `count` entries beyond the init entry.
    func ledger(entries count: Int = 5) throws -> (TemporaryVault, Vault) {
        let temporary = try TemporaryVault()
        let vault = try temporary.create()
        for index in 0..<count {
            try vault.audit(.subjectShow, purpose: "support", target: "subject:\(String(repeating: "ab", count: 16))", rows: index,
                            reason: "entry \(index)")
        }
        return (temporary, vault)
    }

    /// A raw connection to the ledger that bypasses the append-only triggers.
    func attacker(_ temporary: TemporaryVault) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: temporary.layout.auditDatabase.path)
        try queue.write { try $0.execute(sql: "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;") }
        return queue
    }

    func verify(_ temporary: TemporaryVault, pinned: Ed25519.PublicKey? = nil, head: ExpectedHead? = nil) throws -> AuditVerificationReport {
        try AuditVerifier.verify(layout: temporary.layout, pinnedKey: pinned, expectedHead: head)
    }

    func testEntriesRoundTripAndVerifyWithThePublicKeyOnly() throws {
        let (temporary, vault) = try ledger()
        let entries = try vault.auditEntries()
        XCTAssertEqual(entries.map(\.action), [.vaultInit] + Array(repeating: .subjectShow, count: 5))
        XCTAssertEqual(entries[3].details, AuditDetails(actor: "owner", role: "owner", purpose: "support",
                                                        target: "subject:\(String(repeating: "ab", count: 16))", rows: 2, reason: "entry 2"))
        XCTAssertTrue(entries.allSatisfy(\.signed))
        let report = try verify(temporary, pinned: try vault.auditPublicKey())
        XCTAssertTrue(report.isValid, "\(String(describing: report.failure))")
        XCTAssertEqual(report.entryCount, 6)
        XCTAssertEqual(report.signedCount, 6)
    }

    func testTamperingWithAnyFieldOfAnyEntryIsDetected() throws {
        for column in ["at", "action", "decision", "nonce", "details", "prev_hash", "hash", "signature"] {
            for seq in [1, 3, 6] {
                let (temporary, _) = try ledger()
                let queue = try attacker(temporary)
                try queue.write { db in
                    switch column {
                    case "at": try db.execute(sql: "UPDATE entries SET at = at + 1 WHERE seq = ?", arguments: [seq])
                    case "action": try db.execute(sql: "UPDATE entries SET action = 'ingest' WHERE seq = ?", arguments: [seq])
                    case "decision": try db.execute(sql: "UPDATE entries SET decision = 'denied' WHERE seq = ?", arguments: [seq])
                    default:
                        // Flip one bit of the blob.
                        let blob = try Data.fetchOne(db, sql: "SELECT \(column) FROM entries WHERE seq = ?", arguments: [seq])!
                        var bytes = Array(blob)
                        bytes[bytes.count / 2] ^= 0x01
                        try db.execute(sql: "UPDATE entries SET \(column) = ? WHERE seq = ?", arguments: [Data(bytes), seq])
                    }
                }
                let report = try verify(temporary)
                XCTAssertEqual(report.failure?.seq, Int64(seq), "\(column) of entry \(seq): \(String(describing: report.failure))")
            }
        }
    }

    func testRewritingAnEntryWithAFreshChainFailsOnTheSignatures() throws {
        let (temporary, vault) = try ledger()
        // The attacker re-encrypts nothing, just changes the decision and recomputes every later hash without the key.
        let queue = try attacker(temporary)
        try queue.write { db in
            let sha = try SHA256()
            var previous = Array(try Data.fetchOne(db, sql: "SELECT hash FROM entries WHERE seq = 2")!)
            for row in try Row.fetchAll(db, sql: "SELECT seq, at, action, decision, nonce, details FROM entries WHERE seq >= 3 ORDER BY seq") {
                let seq: Int64 = row[0]
                let decision = seq == 3 ? "denied" : row[3] as String
                let hash = try AuditLedger.hash(previous: previous, seq: seq, at: row[1], action: row[2], decision: decision,
                                                nonce: Array(row[4] as Data), details: Array(row[5] as Data), using: sha)
                try db.execute(sql: "UPDATE entries SET decision = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                               arguments: [decision, Data(previous), Data(hash), seq])
                previous = hash
            }
        }
        XCTAssertEqual(try verify(temporary).failure?.seq, 3)
        XCTAssertThrowsError(try vault.auditEntries(), "the details are bound to the decision too")
    }

    func testDeletingOrReorderingEntriesIsDetected() throws {
        let (temporary, _) = try ledger()
        try attacker(temporary).write { try $0.execute(sql: "DELETE FROM entries WHERE seq = 4") }
        XCTAssertEqual(try verify(temporary).failure?.seq, 4)

        let (second, _) = try ledger()
        try attacker(second).write { db in
            try db.execute(sql: "UPDATE entries SET seq = 100 WHERE seq = 2")
            try db.execute(sql: "UPDATE entries SET seq = 2 WHERE seq = 3")
            try db.execute(sql: "UPDATE entries SET seq = 3 WHERE seq = 100")
        }
        XCTAssertEqual(try verify(second).failure?.seq, 2)
    }

    func testTruncatingTheTailIsDetectedAgainstTheHeadTheAuditorKept() throws {
        let (temporary, _) = try ledger()
        let kept = try verify(temporary).head
        XCTAssertEqual(kept.seq, 6)
        XCTAssertTrue(try verify(temporary, head: kept).isValid)
        try attacker(temporary).write { try $0.execute(sql: "DELETE FROM entries WHERE seq >= 5") }
        XCTAssertTrue(try verify(temporary).isValid, "without a kept head a clean truncation looks like a shorter ledger")
        let report = try verify(temporary, head: kept)
        XCTAssertEqual(report.failure?.seq, 5)
        XCTAssertTrue(report.failure?.reason.contains("truncated") == true)
    }

    func testAForgedSignatureOrASwappedPublicKeyIsDetected() throws {
        let (temporary, vault) = try ledger()
        let forger = try Ed25519.PrivateKey(seed: SecureBytes(SecureRandom.bytes(32)))
        let queue = try attacker(temporary)
        try queue.write { db in
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'audit_public_key'", arguments: [Data(forger.publicKey.rawRepresentation)])
        }
        XCTAssertEqual(try verify(temporary).failure?.seq, 1, "old signatures do not verify under the swapped key")
        XCTAssertEqual(try verify(temporary, pinned: try vault.auditPublicKey()).failure?.seq, 0, "the pinned key catches the swap")
    }

    func testAnAuditorCanReadAndVerifyButNotReadCustomerDataAndItsDenialsAreRecorded() throws {
        let (temporary, owner) = try ledger(entries: 1)
        try owner.addActor("audrey", role: .auditor, passphrase: SecureBytes(Array("auditor passphrase".utf8)), kdf: TemporaryVault.testKDF)
        let auditor = try Vault.unlock(layout: temporary.layout, actor: "audrey", passphrase: SecureBytes(Array("auditor passphrase".utf8)))
        XCTAssertThrowsError(try auditor.subjectSummary(for: Identifier(argument: "user:u1")!))
        XCTAssertThrowsError(try auditor.eventLog())
        let entries = try auditor.auditEntries()
        XCTAssertEqual(entries.last?.decision, .denied)
        XCTAssertEqual(entries.last?.details.actor, "audrey")
        XCTAssertEqual(entries.last?.action, .subjectShow)
        XCTAssertFalse(entries.last!.signed, "an auditor holds no signing key")
        XCTAssertEqual(try auditor.auditPublicKey(), try owner.auditPublicKey())
        let report = try verify(temporary, pinned: try auditor.auditPublicKey())
        XCTAssertTrue(report.isValid)
        XCTAssertEqual(report.unsignedTail, 1)
        // The next signed entry covers it.
        try owner.audit(.subjectShow, rows: 1)
        XCTAssertEqual(try verify(temporary).unsignedTail, 0)
    }

    func testAnAnalystsDenialIsSignedAndFilteredByDecision() throws {
        let (temporary, owner) = try ledger(entries: 0)
        try owner.addActor("alice", role: .analyst, passphrase: SecureBytes(Array("analyst passphrase".utf8)), kdf: TemporaryVault.testKDF)
        let analyst = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: SecureBytes(Array("analyst passphrase".utf8)))
        XCTAssertThrowsError(try analyst.quarantinedRecords())
        XCTAssertThrowsError(try analyst.auditEntries(), "analysts may not read the audit trail")
        let denied = try owner.auditEntries(AuditFilter(decision: .denied))
        XCTAssertEqual(denied.map(\.action), [.quarantineList, .auditLog])
        XCTAssertTrue(denied.allSatisfy { $0.signed && $0.details.actor == "alice" })
        XCTAssertEqual(try owner.auditEntries(AuditFilter(actor: "alice")).count, 2)
        XCTAssertEqual(try owner.auditEntries(AuditFilter(action: .actorAdd)).first?.details.target, "actor:alice")
    }
}
