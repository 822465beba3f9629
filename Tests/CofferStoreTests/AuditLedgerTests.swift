import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing

struct AuditLedgerTests {
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

    @Test func testEntriesRoundTripAndVerifyWithThePublicKeyOnly() throws {
        let (temporary, vault) = try ledger()
        let entries = try vault.auditEntries()
        #expect(entries.map(\.action) == [.vaultInit] + Array(repeating: .subjectShow, count: 5))
        #expect(entries[3].details == AuditDetails(actor: "owner", role: "owner", purpose: "support",
                                                        target: "subject:\(String(repeating: "ab", count: 16))", rows: 2, reason: "entry 2"))
        #expect(entries.allSatisfy { $0.signed })
        let report = try verify(temporary, pinned: try vault.auditPublicKey())
        #expect(report.isValid, "\(String(describing: report.failure))")
        #expect(report.entryCount == 6)
        #expect(report.signedCount == 6)
    }

    @Test func testTamperingWithAnyFieldOfAnyEntryIsDetected() throws {
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
                #expect(report.failure?.seq == Int64(seq), "\(column) of entry \(seq): \(String(describing: report.failure))")
            }
        }
    }

    @Test func testRewritingAnEntryWithAFreshChainFailsOnTheSignatures() throws {
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
        #expect(try verify(temporary).failure?.seq == 3)
        #expect(throws: (any Error).self, "the details are bound to the decision too") { try vault.auditEntries() }
    }

    @Test func testDeletingOrReorderingEntriesIsDetected() throws {
        let (temporary, _) = try ledger()
        try attacker(temporary).write { try $0.execute(sql: "DELETE FROM entries WHERE seq = 4") }
        #expect(try verify(temporary).failure?.seq == 4)

        let (second, _) = try ledger()
        try attacker(second).write { db in
            try db.execute(sql: "UPDATE entries SET seq = 100 WHERE seq = 2")
            try db.execute(sql: "UPDATE entries SET seq = 2 WHERE seq = 3")
            try db.execute(sql: "UPDATE entries SET seq = 3 WHERE seq = 100")
        }
        #expect(try verify(second).failure?.seq == 2)
    }

    @Test func testTruncatingTheTailIsDetectedAgainstTheHeadTheAuditorKept() throws {
        let (temporary, _) = try ledger()
        let kept = try verify(temporary).head
        #expect(kept.seq == 6)
        #expect(try verify(temporary, head: kept).isValid)
        try attacker(temporary).write { try $0.execute(sql: "DELETE FROM entries WHERE seq >= 5") }
        #expect(try verify(temporary).isValid, "without a kept head a clean truncation looks like a shorter ledger")
        let report = try verify(temporary, head: kept)
        #expect(report.failure?.seq == 5)
        #expect(report.failure?.reason.contains("truncated") == true)
    }

    @Test func testAForgedSignatureOrASwappedPublicKeyIsDetected() throws {
        let (temporary, vault) = try ledger()
        let forger = try Ed25519.PrivateKey(seed: SecureBytes(SecureRandom.bytes(32)))
        let queue = try attacker(temporary)
        try queue.write { db in
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'audit_public_key'", arguments: [Data(forger.publicKey.rawRepresentation)])
        }
        #expect(try verify(temporary).failure?.seq == 1, "old signatures do not verify under the swapped key")
        #expect(try verify(temporary, pinned: try vault.auditPublicKey()).failure?.seq == 0, "the pinned key catches the swap")
    }

    @Test func testAnAuditorCanReadAndVerifyButNotReadCustomerDataAndItsDenialsAreRecorded() throws {
        let (temporary, owner) = try ledger(entries: 1)
        try owner.addActor("audrey", role: .auditor, passphrase: SecureBytes(Array("auditor passphrase".utf8)), kdf: TemporaryVault.testKDF)
        let auditor = try Vault.unlock(layout: temporary.layout, actor: "audrey", passphrase: SecureBytes(Array("auditor passphrase".utf8)))
        #expect(throws: (any Error).self) { try auditor.subjectSummary(for: Identifier(argument: "user:u1")!) }
        #expect(throws: (any Error).self) { try auditor.eventLog() }
        let entries = try auditor.auditEntries()
        #expect(entries.last?.decision == .denied)
        #expect(entries.last?.details.actor == "audrey")
        #expect(entries.last?.action == .subjectShow)
        #expect(!entries.last!.signed, "an auditor holds no signing key")
        #expect(try auditor.auditPublicKey() == owner.auditPublicKey())
        let report = try verify(temporary, pinned: try auditor.auditPublicKey())
        #expect(report.isValid)
        #expect(report.unsignedTail == 1)
        // The next signed entry covers it.
        try owner.audit(.subjectShow, rows: 1)
        #expect(try verify(temporary).unsignedTail == 0)
    }

    @Test func testAnAnalystsDenialIsSignedAndFilteredByDecision() throws {
        let (temporary, owner) = try ledger(entries: 0)
        try owner.addActor("alice", role: .analyst, passphrase: SecureBytes(Array("analyst passphrase".utf8)), kdf: TemporaryVault.testKDF)
        let analyst = try Vault.unlock(layout: temporary.layout, actor: "alice", passphrase: SecureBytes(Array("analyst passphrase".utf8)))
        #expect(throws: (any Error).self) { try analyst.quarantinedRecords() }
        #expect(throws: (any Error).self, "analysts may not read the audit trail") { try analyst.auditEntries() }
        let denied = try owner.auditEntries(AuditFilter(decision: .denied))
        #expect(denied.map(\.action) == [.quarantineList, .auditLog])
        #expect(denied.allSatisfy { $0.signed && $0.details.actor == "alice" })
        #expect(try owner.auditEntries(AuditFilter(actor: "alice")).count == 2)
        #expect(try owner.auditEntries(AuditFilter(action: .actorAdd)).first?.details.target == "actor:alice")
    }
}
