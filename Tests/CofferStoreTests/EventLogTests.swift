import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing

struct EventLogTests {
    @Test("appended events read back decrypted, per subject, in order")
    func roundTrip() throws {
        let tmp = try TemporaryVault()
        let log = try tmp.create().eventLog()
        let subjects = try (0..<3).map { _ in try SubjectID.random() }
        let events = sampleEvents(subjects: subjects, perSubject: 4)
        let receipt = try log.append(events)
        #expect(receipt.firstSeq == 1 && receipt.lastSeq == 12 && receipt.checkpoints == 1)
        let second = try log.append(sampleEvents(subjects: [subjects[0]], perSubject: 1, marker: "LATER"))
        #expect(second.firstSeq == 13)

        // A new unlock (fresh key caches) reads everything back.
        let reread = try tmp.unlock().eventLog()
        let first = try reread.events(of: subjects[0])
        #expect(first.count == 5)
        #expect(first.map(\.seq) == [1, 4, 7, 10, 13])
        #expect(first[0].payload == events[0].payload)
        #expect(first[0].kind == .identify && first[1].kind == .track)
        #expect(String(decoding: first[4].payload, as: UTF8.self).contains("LATER"))
        #expect(try reread.events(of: SubjectID.random()).isEmpty)
        #expect(try reread.count() == 13)
    }

    @Test("each subject gets its own data key: one subject's key cannot open another's event")
    func perSubjectKeys() throws {
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        let log = try vault.eventLog()
        let a = try SubjectID.random(), b = try SubjectID.random()
        try log.append(sampleEvents(subjects: [a, b], perSubject: 1))
        let wrapped = try vault.database.read { db in
            try Data.fetchAll(db, sql: "SELECT wrapped_key FROM keyring ORDER BY subject_id")
        }
        #expect(wrapped.count == 2 && wrapped[0] != wrapped[1])
        // Graft b's wrapped key onto a: the context binding refuses it.
        let attacker = try tmp.attacker()
        try attacker.write { db in
            let bKey = try Data.fetchOne(db, sql: "SELECT wrapped_key FROM keyring WHERE subject_id = ?", arguments: [Data(b.bytes)])!
            try db.execute(sql: "UPDATE keyring SET wrapped_key = ? WHERE subject_id = ?", arguments: [bKey, Data(a.bytes)])
        }
        // Issue 17: reported as a damaged vault file, with what to run, not as a bare crypto error.
        #expect(throws: VaultError.corruptFile(path: "vault.sqlite",
                                               reason: "a key in the keyring (version 0) fails authentication; run `coffer verify`")) {
            try tmp.unlock().eventLog().events(of: a)
        }
    }

    @Test("a rolled-back append leaves no cached key behind: later events of that subject stay readable")
    func rollbackDoesNotPoisonKeyCache() throws {
        struct Abort: Error {}
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        let log = try vault.eventLog()
        let subject = try SubjectID.random()
        // A caller's batch that creates the subject's key, then fails and rolls back.
        #expect(throws: Abort.self) {
            try vault.database.write { db in
                _ = try log.append(sampleEvents(subjects: [subject], perSubject: 1), in: db)
                throw Abort()
            }
        }
        #expect(try log.count() == 0)
        #expect(try vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM keyring") } == 0)
        // The same log instance goes on: the subject's events must be sealed under a key that is stored.
        try log.append(sampleEvents(subjects: [subject], perSubject: 2))
        #expect(try log.events(of: subject).count == 2)
        #expect(try tmp.unlock().eventLog().events(of: subject).count == 2)
    }

    @Test("the database refuses UPDATE and DELETE on events and checkpoints")
    func appendOnly() throws {
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        try vault.eventLog().append(sampleEvents(subjects: [SubjectID.random()], perSubject: 2))
        for sql in ["UPDATE events SET kind = 'page' WHERE seq = 1", "DELETE FROM events WHERE seq = 2",
                    "UPDATE checkpoints SET signed_at = 0", "DELETE FROM checkpoints"] {
            #expect(throws: DatabaseError.self, "\(sql)") { try vault.database.write { try $0.execute(sql: sql) } }
        }
        #expect(try vault.eventLog().count() == 2)
    }

    @Test("a large append is checkpointed every interval and at the end")
    func checkpointInterval() throws {
        let tmp = try TemporaryVault()
        let vault = try tmp.create()
        let log = try vault.eventLog()
        log.checkpointInterval = 10
        let receipt = try log.append(sampleEvents(subjects: [SubjectID.random(), SubjectID.random()], perSubject: 12))
        #expect(receipt.count == 24)
        #expect(receipt.checkpoints == 3)
        let seqs = try vault.database.read { try Int64.fetchAll($0, sql: "SELECT seq FROM checkpoints ORDER BY seq") }
        #expect(seqs == [10, 20, 24])
        #expect(try LogVerifier.verify(layout: tmp.layout).isValid)
    }

    @Test("no plaintext of any payload reaches any file of the vault: database, WAL, shm")
    func noPlaintextOnDisk() throws {
        let tmp = try TemporaryVault()
        let subjects = try (0..<20).map { _ in try SubjectID.random() }
        do {
            let vault = try tmp.create()
            try vault.eventLog().append(sampleEvents(subjects: subjects, perSubject: 5, marker: "ZQXJ-SECRET"))
            // While the connection is open, the WAL holds the newest pages.
            try assertNoMarker(in: tmp, markers: ["ZQXJ-SECRET", "example.com", "purchase"])
        }
        try assertNoMarker(in: tmp, markers: ["ZQXJ-SECRET", "example.com", "purchase"])
        // And the data is really there, encrypted.
        #expect(try tmp.unlock().eventLog().events(of: subjects[3]).count == 5)
    }

    private func assertNoMarker(in tmp: TemporaryVault, markers: [String]) throws {
        let files = try tmp.allFiles()
        #expect(files.contains { $0.name == "vault.sqlite" })
        for file in files {
            for marker in markers {
                #expect(file.bytes.range(of: Data(marker.utf8)) == nil, "\(marker) found in \(file.name)")
            }
        }
    }
}
