import CofferCrypto
import CofferIngest
import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// Issue 22: dedup keys filed by event day, and the token → subject cache.
struct ScaleIngestTests {
    static func event(_ id: String, user: String, at time: String, type: String = "track") -> String {
        #"{"type":"\#(type)","userId":"\#(user)","messageId":"\#(id)","event":"Order Completed","timestamp":"\#(time)"}"#
    }

    @Test("dedup: the same messageId on the same event day is a duplicate, keys lie in day order, untimed records match on any day")
    func dedupByDay() throws {
        let fixture = try IngestFixture()
        let first = try fixture.file("first.jsonl", [
            Self.event("m1", user: "u1", at: "2026-03-02T10:00:00Z"),
            Self.event("m2", user: "u1", at: "2026-03-01T09:00:00Z"),
        ].joined(separator: "\n") + "\n")
        #expect(try fixture.ingest(first).accepted == 2)
        // A resend of m1 later the same day (the SDK's retry, a corrected time): recognised.
        let resend = try fixture.file("resend.jsonl", Self.event("m1", user: "u1", at: "2026-03-02T23:59:00Z") + "\n")
        let again = try fixture.ingest(resend)
        #expect(again.accepted == 0 && again.duplicates == 1)
        // The same messageId filed under another day is another event (the documented rule).
        let otherDay = try fixture.file("other.jsonl", Self.event("m1", user: "u1", at: "2026-03-04T08:00:00Z") + "\n")
        #expect(try fixture.ingest(otherDay).accepted == 1)
        // Keys sort by the day they are filed under: 2026-03-01 before 03-02 before 03-04.
        let days = try fixture.vault.database.read { db in
            try Data.fetchAll(db, sql: "SELECT key FROM dedup_days ORDER BY key").map { key in
                Int64(key.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) - 0x8000_0000
            }
        }
        let march1 = Int64(1_772_323_200) / 86_400   // 2026-03-01T00:00:00Z
        #expect(days == [march1, march1 + 1, march1 + 3])
        // Nothing goes to the keys of before the migration.
        #expect(try fixture.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM dedup") } == 0)
    }

    @Test("keys recorded before migration v10 (hash only) still make a record a duplicate, on any day")
    func legacyKeysStillCount() throws {
        let fixture = try IngestFixture()
        let dedup = try fixture.vault.dedupIndex()
        // What a vault of format 9 holds for an event with messageId "old-1": the keyed hash, no day.
        let hash = try dedup.key(messageID: "old-1", content: [], occurredAt: nil).hash
        try fixture.vault.database.write { try $0.execute(sql: "INSERT INTO dedup(key) VALUES (?)", arguments: [Data(hash)]) }
        let path = try fixture.file("old.jsonl", [
            Self.event("old-1", user: "u1", at: "2025-12-31T10:00:00Z"),
            Self.event("new-1", user: "u1", at: "2025-12-31T10:00:00Z"),
        ].joined(separator: "\n") + "\n")
        let report = try fixture.ingest(path)
        #expect(report.duplicates == 1 && report.accepted == 1)
        #expect(try fixture.ingest(path).duplicates == 2)
    }

    @Test("migration v10 on a vault of format 6: one run indexes its log, and its events imported again are all duplicates")
    func formatSixMigrates() throws {
        let fixture = ScratchVault.repository.appendingPathComponent("Tests/Fixtures/vault-format-6")
        let scratch = try ScratchVault("format", passphrase: "format fixture passphrase")
        try FileManager.default.createDirectory(at: scratch.layout.directory, withIntermediateDirectories: true)
        for name in [VaultLayout.databaseName, VaultLayout.auditName, VaultLayout.keyslotsName] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: scratch.layout.directory.appendingPathComponent(name))
        }
        let vault = try scratch.unlock()
        let (mismatch, runs, legacy) = try vault.database.read { db in
            (try SubjectIndex.mismatch(in: db), try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_run_list"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM dedup"))
        }
        #expect(mismatch == nil && runs == 1)
        #expect((legacy ?? 0) > 0, "the keys of before the migration are kept")
        // The fixture's own events (as stored: normalised, with their messageIds and times) come back as duplicates.
        let log = try vault.eventLog()
        let subjects = try vault.database.read { try Data.fetchAll($0, sql: "SELECT DISTINCT subject_id FROM events") }
        let kinds: Set<EventKind> = [.identify, .track, .page]
        let payloads = try subjects.flatMap { try log.events(of: SubjectID(bytes: Array($0))) }.filter { kinds.contains($0.kind) }
            .map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(payloads.count >= 3)
        let path = try scratch.file("again.jsonl", payloads.joined(separator: "\n") + "\n")
        let report = try Ingestor(vault: vault, policy: nil).ingest(path: path.path)
        #expect(report.accepted == 0 && report.duplicates == payloads.count, "\(report)")
    }

    @Test("an erasure, from this connection or another, makes the ingest's cached tokens forget the erased subject")
    func erasureInvalidatesTokens() throws {
        let fixture = try IngestFixture()
        let ingestor = try Ingestor(vault: fixture.vault, policy: nil)
        for (round, sameConnection) in [false, true].enumerated() {
            let user = "erased-\(round)"
            let day = "2026-0\(round + 1)-01"
            _ = try ingestor.ingest(path: try fixture.file("a\(round).jsonl", [
                Self.event("a\(round)", user: user, at: "\(day)T10:00:00Z"), Self.event("b\(round)", user: user, at: "\(day)T11:00:00Z"),
            ].joined(separator: "\n") + "\n"))
            let erased = try #require(try fixture.summary("user:\(user)")).subject
            // Another process's connection (a second Vault), or the ingest's own.
            let eraser = sameConnection ? fixture.vault : try fixture.scratch.unlock()
            _ = try eraser.shred(person: erased, request: "DSR-T\(round)", suppress: false, quarantined: [])
            let left = try fixture.vault.database.read { try SubjectIndex.seqs(of: erased, in: $0) }
            #expect(left.isEmpty, "the index no longer leads to the erased events")
            // The same ingestor sees the identifier again: a new person, nothing for the erased one.
            let report = try ingestor.ingest(path: try fixture.file("c\(round).jsonl",
                                                                    Self.event("c\(round)", user: user, at: "\(day)T12:00:00Z") + "\n"))
            #expect(report.accepted == 1 && report.subjectsCreated == 1, "round \(round): \(report)")
            let now = try #require(try fixture.summary("user:\(user)"))
            #expect(now.subject != erased && now.totalEvents == 1)
            #expect(try fixture.vault.eventLog().events(of: erased).isEmpty)
            #expect(try LogVerifier.verify(layout: fixture.layout).failure == nil, "the index matches the log, less the erased")
            #expect(try fixture.vault.database.read { try SubjectIndex.mismatch(in: $0) } == nil)
        }
    }

    @Test("a merge made by another connection redirects the ingest's cached tokens to the survivor")
    func mergeElsewhereInvalidatesTokens() throws {
        let fixture = try IngestFixture()
        let ingestor = try Ingestor(vault: fixture.vault, policy: nil)
        let anonymous = #"{"type":"page","anonymousId":"anon-7","messageId":"p1","name":"Home","timestamp":"2026-02-01T10:00:00Z"}"#
        // Seen twice, so the second lookup finds (and caches) the anonymous id's subject.
        let seenAgain = anonymous.replacingOccurrences(of: "\"p1\"", with: "\"p0\"")
        _ = try ingestor.ingest(path: try fixture.file("one.jsonl", [anonymous, seenAgain, Self.event("t1", user: "u7", at: "2026-02-01T09:00:00Z")]
            .joined(separator: "\n") + "\n"))
        let (anon, user) = (try #require(try fixture.summary("anon:anon-7")).subject, try #require(try fixture.summary("user:u7")).subject)
        #expect(anon != user)
        // Another process learns they are one person.
        let other = try Ingestor(vault: try fixture.scratch.unlock(), policy: nil)
        let link = #"{"type":"identify","anonymousId":"anon-7","userId":"u7","messageId":"i1","timestamp":"2026-02-01T10:10:00Z"}"#
        #expect(try other.ingest(path: try fixture.file("link.jsonl", link + "\n")).merges == 1)
        let survivor = try #require(try fixture.summary("user:u7")).subject
        let absorbed = survivor == anon ? user : anon
        #expect(absorbed == anon, "the user id was recorded first, so it survives and the cached anonymous id's subject is absorbed")
        // The first ingestor's next page view by the anonymous id lands on the survivor.
        let later = #"{"type":"page","anonymousId":"anon-7","messageId":"p2","name":"Menu","timestamp":"2026-02-01T10:20:00Z"}"#
        let report = try ingestor.ingest(path: try fixture.file("later.jsonl", later + "\n"))
        #expect(report.accepted == 1 && report.subjectsCreated == 0)
        let lastSubject = try fixture.vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT subject_id FROM events WHERE kind = 'page' ORDER BY seq DESC LIMIT 1")!
        }
        #expect(Array(lastSubject) == survivor.bytes, "the event went to the absorbed subject \(absorbed.hex.prefix(8))")
    }
}
