import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferProjection
import CofferPublish
import CofferRequests
import CofferStore
import CofferTestSupport
import Foundation
import GRDB
import Testing

/// `coffer publish` against real ClickHouse servers (two shards on loopback).
@Suite(.serialized)
struct PublishTests {
    @Test("published rows, queried through the Distributed table, match the analyst's projection; one person's rows on one shard")
    func publishedMatchesProjection() throws {
        let fixture = try PublishFixture()
        let report = try fixture.publish(database: "match")
        #expect(report.manifest.full)
        #expect(report.manifest.people > 20)
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "marketing", action: .query)
        let shard = fixture.servers.client(1)   // any shard answers through the Distributed tables

        let localIDs = try reader.query("SELECT customer_id FROM single_view ORDER BY customer_id").rows.map(\.[0].description)
        let remoteIDs = try shard.rows("SELECT customer_id FROM match.marketing_single_view ORDER BY customer_id").map(\.[0])
        #expect(remoteIDs == localIDs)
        let localMembers = try reader.query("SELECT segment, count(*) FROM segment_members GROUP BY segment ORDER BY segment").rows
            .map { [$0[0].description, $0[1].description] }
        let remoteMembers = try shard.rows("SELECT segment, count() FROM match.marketing_segment_members GROUP BY segment ORDER BY segment")
        #expect(remoteMembers == localMembers)
        // Every numeric column sums the same on both sides.
        let numeric = try reader.query("SELECT name FROM columns WHERE type IN ('INTEGER', 'REAL')").rows.map(\.[0].description)
        #expect(numeric.count > 5)
        for column in numeric {
            let local = try reader.query("SELECT total(\"\(column)\") FROM single_view").rows[0][0].double ?? 0
            let remote = Double(try shard.execute("SELECT sum(`\(column)`) FROM match.marketing_single_view")) ?? .nan
            #expect(abs(local - remote) <= 1e-6 * max(1, abs(local)), "\(column): \(local) vs \(remote)")
        }
        // Each person on exactly one shard, the one cityHash64 picks.
        let first = Set(try fixture.servers.client(0).rows("SELECT customer_id FROM match.marketing_single_view_local").map(\.[0]))
        let second = Set(try fixture.servers.client(1).rows("SELECT customer_id FROM match.marketing_single_view_local").map(\.[0]))
        #expect(first.isDisjoint(with: second))
        #expect(!first.isEmpty && !second.isEmpty)
        #expect(first.union(second) == Set(localIDs))
        for index in 0..<2 {
            let misplaced = try fixture.servers.client(index).integer(
                "SELECT count() FROM match.marketing_single_view_local WHERE cityHash64(customer_id) % 2 <> \(index)")
            #expect(misplaced == 0)
        }
    }

    @Test("only the columns the policy gives the role exist remotely; activation subject ids never leave")
    func onlyAllowedColumns() throws {
        let fixture = try PublishFixture(customers: 60)
        _ = try fixture.publish(database: "cols")
        _ = try fixture.publish(role: .marketing, database: "colsmkt")
        let engine = PolicyEngine(policy: fixture.policy)
        for (database, role) in [("cols", Role.analyst), ("colsmkt", Role.marketing)] {
            let remote = try fixture.servers.client(0).rows("DESCRIBE TABLE \(database).marketing_single_view_local").map(\.[0])
            let allColumns = SingleViewColumn.names + fixture.policy.purposes.filter(\.needsConsent).map { SingleView.consentColumn($0.name) }
            let allowed = allColumns.filter { !engine.decide(actor: "owner", role: role, purpose: "marketing", action: .query, field: $0).isDenied }
            #expect(Set(remote) == Set(allowed), "\(role)")
            #expect(!remote.contains("address") && !remote.contains("subject_id"))
            let tables = try fixture.servers.servers.indices.flatMap { index in
                try fixture.servers.client(index).rows("SELECT name FROM system.tables WHERE database = '\(database)'").map(\.[0])
            }
            #expect(!tables.contains { $0.contains("activation") }, "\(tables)")
            let columns = try fixture.servers.client(0).rows("SELECT table, name FROM system.columns WHERE database = '\(database)'")
            #expect(!columns.contains { $0[1].contains("subject") }, "\(columns)")
        }
        // The analyst's copy holds tokens, the marketer's the email the policy lets marketing see.
        let analystIDs = try fixture.servers.client(0).rows("SELECT customer_id FROM cols.marketing_single_view LIMIT 5").map(\.[0])
        #expect(analystIDs.allSatisfy { !$0.contains("@") && $0.count >= 16 })
    }

    @Test("erasure, withdrawal and restriction reach every shard: 0 rows, and the receipt and statement say verified")
    func propagation() throws {
        let fixture = try PublishFixture()
        _ = try fixture.publish(database: "prop")
        let people = try fixture.people().sorted { $0.key < $1.key }
        let (erased, withdrawn, restricted) = (people[0], people[1], people[2])
        for person in [erased, withdrawn, restricted] {
            #expect(try fixture.rows(of: person.key, in: "marketing_single_view", database: "prop").reduce(0, +) == 1)
        }

        let desk = try fixture.dpo()
        let receipt = try desk.erase(subject: try fixture.email(of: erased.value))
        let copies = try #require(receipt.receipt.remoteCopies)
        #expect(copies.count == 1 && copies[0].status == "pending")
        _ = try desk.restrict(subject: try fixture.email(of: restricted.value))
        _ = try fixture.owner.database.write { db in
            try fixture.owner.consentLedger().record(ConsentRecord(purpose: "marketing", status: .withdrawn, source: "test",
                                                                    effectiveAt: fixture.now), for: withdrawn.value, in: db)
        }
        let pending = try fixture.owner.database.read { try RemoteCopies.pending(in: $0) }
        #expect(Set(pending.map(\.reason)) == [.erasure, .restriction, .withdrawal])
        #expect(Set(pending.compactMap(\.customerID)) == [erased.key, withdrawn.key, restricted.key])

        // The erased and the restricted are out of the file's subject map at once; no analyst can read the map.
        let map = try fixture.people()
        #expect(map[erased.key] == nil && map[restricted.key] == nil && map[withdrawn.key] != nil)
        #expect(try SubjectMap.read(purpose: "marketing", role: .analyst, vault: fixture.analyst()) == nil)

        let sync = try DeleteSync(vault: fixture.owner, credentials: LocalClickHouse.credentials).run()
        #expect(sync.verified == 3 && sync.failures.isEmpty && sync.pending == 0)
        for person in [erased, withdrawn, restricted] {
            #expect(try fixture.rows(of: person.key, in: "marketing_single_view", database: "prop") == [0, 0])
            #expect(try fixture.rows(of: person.key, in: "marketing_segment_members", database: "prop") == [0, 0])
        }
        // Once verified, the vault forgets which customer_id the person had.
        let verified = try fixture.owner.database.read { try RemoteCopies.deletes(ofRequest: receipt.receipt.request, in: $0) }
        #expect(verified.count == 1 && verified[0].customerID == nil && verified[0].verifiedAt != nil)
        #expect(verified[0].removalDueAt == verified[0].verifiedAt! + 30_000)
        let statement = try desk.remoteStatement(receipt.receipt.request)
        #expect(statement.statement.allVerified)
        #expect(try RequestDesk.verify(statement, publicKey: nil).copies[0].status == "verified gone")
        // The next publish does not send them back.
        let again = try fixture.publish(database: "prop")
        #expect(!again.manifest.full && again.manifest.added == 0)
        for person in [erased, withdrawn, restricted] {
            #expect(try fixture.rows(of: person.key, in: "marketing_single_view", database: "prop") == [0, 0])
        }
    }

    @Test("an erasure sends its remote deletes before signing: the receipt says verified gone; an analyst may not publish")
    func receiptSaysVerified() throws {
        let fixture = try PublishFixture(customers: 60)
        _ = try fixture.publish(database: "receipt")
        let (id, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        let desk = try fixture.dpo()
        desk.syncRemoteCopies = { _ = try DeleteSync(vault: desk.vault, credentials: LocalClickHouse.credentials).run() }
        let receipt = try desk.erase(subject: try fixture.email(of: subject))
        let copy = try #require(receipt.receipt.remoteCopies?.first)
        #expect(copy.status == "verified gone" && copy.verifiedAt != nil && copy.physicalRemovalBy != nil)
        #expect(try RequestDesk.verify(receipt, publicKey: nil).remoteCopies == [copy])
        #expect(try fixture.rows(of: id, in: "marketing_single_view", database: "receipt") == [0, 0])

        let analyst = try fixture.analyst()
        #expect(throws: VaultError.self) {
            try Publisher(vault: analyst, policy: fixture.policy).publish(purpose: "marketing", role: .analyst, to: fixture.target("receipt"))
        }
        #expect(throws: VaultError.self) { try DeleteSync(vault: analyst, credentials: LocalClickHouse.credentials).run() }
        let denials = try fixture.owner.auditEntries(AuditFilter(decision: .denied)).map(\.action)
        #expect(denials.contains(.publish) && denials.contains(.publishSync))
    }

    @Test("a shard that is down keeps its deletes queued, retried until it is back")
    func downShardIsRetried() throws {
        let fixture = try PublishFixture(customers: 80)
        _ = try fixture.publish(database: "down")
        let (id, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        let shard = try #require(fixture.rows(of: id, in: "marketing_single_view", database: "down").firstIndex(of: 1))
        fixture.servers.stop(shard)
        let receipt = try fixture.dpo().erase(subject: try fixture.email(of: subject))
        let sync = DeleteSync(vault: fixture.owner, credentials: LocalClickHouse.credentials)
        let first = try sync.run()
        #expect(first.verified == 0 && first.failures.count == 1 && first.pending == 1)
        let second = try sync.run()
        #expect(second.verified == 0 && second.pending == 1)
        let owed = try fixture.owner.database.read { try RemoteCopies.pending(in: $0) }
        #expect(owed.count == 1 && owed[0].attempts == 2 && owed[0].lastError?.contains("did not answer") == true)
        let status = try PublishStatus.load(vault: fixture.owner, deadline: 1, now: EventLog.now() + 10)
        #expect(status.pending.count == 1 && status.overdue == 1)

        try fixture.servers.start(shard)
        let third = try sync.run()
        #expect(third.verified == 1 && third.pending == 0 && third.requestsCompleted == [receipt.receipt.request])
        #expect(try fixture.rows(of: id, in: "marketing_single_view", database: "down") == [0, 0])
    }

    @Test("a publish stopped after recording or after sending is completed by the next: the shards hold each person once")
    func interruptedPublishIsCompleted() throws {
        struct Killed: Error {}
        let fixture = try PublishFixture(customers: 80)
        let people = try fixture.people().sorted { $0.key < $1.key }
        for (round, step) in ["recorded", "sent"].enumerated() {
            let database = "killed_\(step)"
            #expect(throws: Killed.self) {
                try fixture.publish(database: database) { $0.afterStep = { if $0 == step { throw Killed() } } }
            }
            // A second stop in the same place, after a first publish completed the tables.
            _ = try fixture.publish(database: database)
            #expect(throws: Killed.self) {
                try fixture.publish(database: database) { $0.afterStep = { if $0 == step { throw Killed() } } }
            }
            // The copy stays marked: the next publish rewrites it. Deletes wait only while a publish runs (holds the lock).
            let subject = people[round].value
            _ = try fixture.owner.database.write { db in
                try fixture.owner.consentLedger().record(ConsentRecord(purpose: "marketing", status: .withdrawn, source: "test",
                                                                        effectiveAt: fixture.now), for: subject, in: db)
            }
            let copies = try fixture.owner.database.read { try RemoteCopies.copies(in: $0) }.filter { $0.database == database }
            #expect(copies.count == 1 && copies[0].publishingSince != nil)
            let sync = DeleteSync(vault: fixture.owner, credentials: LocalClickHouse.credentials)
            var lock: PublishLock? = try PublishLock(fixture.owner.layout)
            #expect(PublishLock.isHeld(fixture.owner.layout) && lock != nil)
            let waiting = try sync.run(copies: Set(copies.map(\.id)))
            #expect(waiting.verified == 0 && waiting.waiting == 1, "\(waiting)")
            lock = nil
            #expect(!PublishLock.isHeld(fixture.owner.layout))
            #expect(try sync.run(copies: Set(copies.map(\.id))).verified == 1)
            let report = try fixture.publish(database: database)
            #expect(report.manifest.full, "a publish cut off midway is followed by a rewrite")
            #expect(try fixture.owner.database.read { try RemoteCopies.pending(of: copies[0].id, in: $0) }.isEmpty)
            let client = fixture.servers.client(0)
            let rows = try client.integer("SELECT count() FROM \(database).marketing_single_view")
            let distinct = try client.integer("SELECT uniqExact(customer_id) FROM \(database).marketing_single_view")
            #expect(rows == report.manifest.people && distinct == rows, "\(step)")
            #expect(report.manifest.tables["marketing_segment_members"]
                == (try client.integer("SELECT count() FROM (SELECT DISTINCT segment, customer_id FROM \(database).marketing_segment_members)")))
            let recorded = try fixture.owner.database.read { db in
                try RemoteCopies.people(of: report.manifest.copy, in: db)
            }
            #expect(recorded.count == rows && recorded.values.allSatisfy { !$0.digest.isEmpty })
        }
    }

    @Test("an unchanged projection sends nothing; a person who left is deleted; the manifest is signed and matches the shards")
    func incrementalAndManifest() throws {
        let fixture = try PublishFixture(customers: 80)
        let first = try fixture.publish(database: "incr")
        let same = try fixture.publish(database: "incr")
        #expect(!same.manifest.full && same.manifest.added == 0 && same.manifest.replaced == 0 && same.manifest.removed == 0)
        // Someone withdraws; the file still has them until the next build: left out now, and deleted.
        let (id, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        _ = try fixture.owner.database.write { db in
            try fixture.owner.consentLedger().record(ConsentRecord(purpose: "marketing", status: .withdrawn, source: "test",
                                                                    effectiveAt: fixture.now), for: subject, in: db)
        }
        let after = try fixture.publish(database: "incr")
        #expect(after.leftOutNow == 1 && after.manifest.people == first.manifest.people - 1)
        #expect(after.sync.verified == 1)
        #expect(try fixture.rows(of: id, in: "marketing_single_view", database: "incr") == [0, 0])

        // A build days later moves everyone's recency: the person tables are rewritten (the unchanged rows copied
        // shard-side) and swapped in. One more person withdraws: they are not copied, and their delete is verified.
        _ = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: fixture.segments).build(now: fixture.now + 9 * 86_400_000)
        let (leaving, leavingSubject) = try #require(try fixture.people().filter { $0.key != id }.min { $0.key < $1.key })
        _ = try fixture.owner.database.write { db in
            try fixture.owner.consentLedger().record(ConsentRecord(purpose: "marketing", status: .withdrawn, source: "test",
                                                                    effectiveAt: fixture.now), for: leavingSubject, in: db)
        }
        // The changed rows read again from the file to be sent (none kept from the read).
        let moved = try fixture.publish(database: "incr") { $0.rewriteAbove = 5; $0.keptBytes = 0 }
        #expect(moved.rewritten && !moved.manifest.full && moved.manifest.replaced >= 5 && moved.leftOutNow == 1)
        #expect(moved.manifest.people == after.manifest.people - 1 && moved.sync.verified == 1)
        #expect(try fixture.rows(of: leaving, in: "marketing_single_view", database: "incr") == [0, 0])
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "marketing", action: .query)
        let recency = try reader.query("SELECT customer_id, recency FROM single_view WHERE recency IS NOT NULL "
            + "AND customer_id NOT IN ('\(id)', '\(leaving)') ORDER BY customer_id").rows
            .map { "\($0[0])\t\($0[1])" }
        let remote = try fixture.servers.client(1).rows("SELECT customer_id, recency FROM incr.marketing_single_view "
            + "WHERE recency IS NOT NULL ORDER BY customer_id").map { $0.joined(separator: "\t") }
        #expect(remote == recency && !remote.isEmpty)
        let leftovers = try fixture.servers.servers.indices.flatMap { index in
            try fixture.servers.client(index).rows("SELECT name FROM system.tables WHERE database = 'incr' AND (name LIKE '%_next' OR name LIKE '%_old')")
        }
        #expect(leftovers.isEmpty)

        // The manifest: in a signed audit entry, with the counts the shards show.
        let verification = try AuditVerifier.verify(layout: fixture.owner.layout)
        #expect(verification.isValid && verification.unsignedTail == 0)
        let entry = try #require(try fixture.owner.auditEntries(AuditFilter(action: .publish)).last)
        #expect(entry.signed)
        let manifest = try JSONDecoder().decode(PublishManifest.self, from: Data((entry.details.reason ?? "").utf8))
        #expect(manifest == moved.manifest)
        #expect(manifest.policySHA256 == fixture.policy.sha256)
        for (table, rows) in manifest.tables {
            let stored = ["marketing_single_view", "marketing_segment_members"].contains(table) ? "\(table)_local" : table
            let shards = stored.hasSuffix("_local") ? fixture.servers.servers.indices.map { $0 } : [0]
            let remote = try shards.reduce(0) { $0 + (try fixture.servers.client($1).integer("SELECT count() FROM incr.`\(stored)`")) }
            #expect(remote == rows, "\(table)")
        }
    }

    @Test("a delete taken off the queue, or a person taken off a copy's list, outside Coffer is refused, not trusted")
    func tamperedQueue() throws {
        let fixture = try PublishFixture(customers: 40, shards: 1)
        _ = try fixture.publish(database: "tamper")
        let (_, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        _ = try fixture.dpo().erase(subject: try fixture.email(of: subject))
        for (table, sql) in [("remote_deletes", "DELETE FROM remote_deletes"), ("published_people", "DELETE FROM published_people")] {
            let queue = try DatabaseQueue(path: fixture.owner.layout.database.path)
            try queue.write { db in
                for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\(table)_seal_%'") {
                    try db.execute(sql: "DROP TRIGGER \(name)")
                }
                try db.execute(sql: sql)
                #expect(db.changesCount > 0)
            }
            try queue.close()
            let owner = try fixture.scratch.unlock()
            #expect {
                try DeleteSync(vault: owner, credentials: LocalClickHouse.credentials).run()
            } throws: { error in
                guard case let .tamperedTable(_, name)? = error as? VaultError else { return false }
                return name == table
            }
            #expect(throws: VaultError.self) {
                try Publisher(vault: owner, policy: fixture.policy).publish(purpose: "marketing", role: .analyst, to: fixture.target("tamper"))
            }
        }
    }

    @Test("a retention run leaves every copy owing a publish from a later build; that publish meets it")
    func retention() throws {
        let fixture = try PublishFixture(customers: 40, shards: 1)
        let first = try fixture.publish(database: "kept")
        let later = fixture.now + 3 * 365 * 86_400_000   // everything collected is past retention then
        let run = try RetentionRun.apply(vault: fixture.owner, policy: fixture.policy, now: later, dryRun: false)
        #expect(run.report.eventsDestroyed > 0 && run.report.remoteCopiesToRepublish == 1)
        func owed() throws -> [RemoteDelete] { try fixture.owner.database.read { try RemoteCopies.pending(in: $0) } }
        #expect(try owed().map(\.reason) == [.retention])
        _ = try DeleteSync(vault: fixture.owner, credentials: LocalClickHouse.credentials).run()
        #expect(try owed().count == 1, "a sync cannot meet it: only rows from a later build can")
        _ = try fixture.publish(database: "kept")
        #expect(try owed().count == 1, "the file was built before the run")

        _ = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: fixture.segments).build(now: later)
        var publisher = Publisher(vault: fixture.owner, policy: fixture.policy)
        publisher.chunkRows = 7
        let after = try publisher.publish(purpose: "marketing", role: .analyst, to: fixture.target("kept"), now: { later })
        #expect(try owed().isEmpty)
        #expect(after.manifest.people < first.manifest.people && after.manifest.removed > 0)
        let rows = try fixture.servers.client(0).integer("SELECT count() FROM kept.marketing_single_view")
        #expect(rows == after.manifest.people)
    }

    @Test("a refused password or a shard that does not answer fails the publish at once, with nothing recorded")
    func refusedBeforeAnythingIsRecorded() throws {
        let fixture = try PublishFixture(customers: 30, shards: 1)
        let wrong = try PublishTarget(to: fixture.servers.urls[0], credentials: ClickHouseCredentials(user: LocalClickHouse.user, password: "wrong"))
        #expect(throws: PublishError.remote(shard: fixture.servers.urls[0], status: 401, message: "the user and password were refused")) {
            try Publisher(vault: fixture.owner, policy: fixture.policy).publish(purpose: "marketing", role: .analyst, to: wrong)
        }
        let down = try PublishTarget(to: "http://127.0.0.1:1", credentials: LocalClickHouse.credentials)
        #expect {
            try Publisher(vault: fixture.owner, policy: fixture.policy).publish(purpose: "marketing", role: .analyst, to: down)
        } throws: { error in
            guard case .unreachable? = error as? PublishError else { return false }
            return true
        }
        #expect(try fixture.owner.database.read { try RemoteCopies.copies(in: $0) }.isEmpty)
    }

    @Test("one person rectified: only their rows are deleted and sent again, the others left alone")
    func onePersonReplaced() throws {
        let fixture = try PublishFixture(customers: 120)
        _ = try fixture.publish(database: "one_changed")
        let (id, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        _ = try fixture.dpo().rectify(subject: try fixture.email(of: subject), set: ["first_name": "Rectified", "city": "Elsewhere"])
        try fixture.build()
        // Read by one thread, as a file of more people than `twoReadersUpTo` is.
        let report = try fixture.publish(database: "one_changed") { $0.twoReadersUpTo = 0 }
        #expect(!report.manifest.full && report.manifest.replaced == 1 && report.manifest.added == 0 && report.manifest.removed == 0)
        let reader = try ProjectionReader(vault: fixture.analyst(), policy: fixture.policy, purpose: "marketing", action: .query)
        let columns = try reader.query("SELECT name FROM columns WHERE type = 'TEXT' AND name <> 'customer_id'").rows.map(\.[0].description)
        let local = try reader.query("SELECT \(columns.map { "\"\($0)\"" }.joined(separator: ", ")) FROM single_view WHERE customer_id = '\(id)'")
            .rows[0].map { $0 == .null ? "\\N" : $0.description }
        let remote = try fixture.servers.client(0).rows("SELECT \(columns.map { "`\($0)`" }.joined(separator: ", ")) "
            + "FROM one_changed.marketing_single_view WHERE customer_id = '\(id)'")
        #expect(remote == [local])
        #expect(try fixture.rows(of: id, in: "marketing_single_view", database: "one_changed").reduce(0, +) == 1)
        #expect(try fixture.servers.client(1).integer("SELECT count() FROM one_changed.marketing_single_view") == report.manifest.people)
    }

    @Test("a rewrite stopped midway leaves new tables that deletes still reach; the next publish drops them",
          arguments: ["copying", "recorded"])
    func interruptedRewrite(step: String) throws {
        struct Killed: Error {}
        let fixture = try PublishFixture(customers: 60)
        _ = try fixture.publish(database: "half")
        let people = try fixture.people().sorted { $0.key < $1.key }
        _ = try fixture.dpo().rectify(subject: try fixture.email(of: people[0].value), set: ["city": "Elsewhere"])
        try fixture.build()
        // One person changed, a rewrite asked for: the shards copy the other 59 into `_next` tables, then the publish
        // stops (while they copy, or once the vault recorded the publish).
        #expect(throws: Killed.self) {
            try fixture.publish(database: "half") { publisher in
                publisher.rewriteAbove = 1
                publisher.afterStep = { if $0 == step { throw Killed() } }
            }
        }
        let (id, subject) = people[1]
        func copied(_ table: String) throws -> Int {
            try fixture.servers.servers.indices.reduce(0) {
                $0 + (try fixture.servers.client($1).integer("SELECT count() FROM half.`\(table)` WHERE customer_id = '\(id)'"))
            }
        }
        #expect(try copied("marketing_single_view_local_next") == 1, "the copy ran before the stop")

        _ = try fixture.owner.database.write { db in
            try fixture.owner.consentLedger().record(ConsentRecord(purpose: "marketing", status: .withdrawn, source: "test",
                                                                    effectiveAt: fixture.now), for: subject, in: db)
        }
        let sync = try DeleteSync(vault: fixture.owner, credentials: LocalClickHouse.credentials).run()
        #expect(sync.verified == 1 && sync.failures.isEmpty)
        for table in ["marketing_single_view_local", "marketing_single_view_local_next", "marketing_segment_members_local",
                      "marketing_segment_members_local_next"] {
            #expect(try copied(table) == 0, "\(table)")
        }

        let next = try fixture.publish(database: "half")
        #expect(next.manifest.full, "a publish stopped once its copy started is followed by a full one")
        let leftovers = try fixture.servers.servers.indices.flatMap { index in
            try fixture.servers.client(index).rows("SELECT name FROM system.tables WHERE database = 'half' AND (name LIKE '%_next' OR name LIKE '%_old')")
        }
        #expect(leftovers.isEmpty)
        #expect(try fixture.servers.client(0).integer("SELECT count() FROM half.marketing_single_view") == next.manifest.people)
    }

    @Test("a retired copy's tables are gone from every shard, and the vault forgets it and the deletes it was owed")
    func retire() throws {
        let fixture = try PublishFixture(customers: 60)
        _ = try fixture.publish(database: "old")
        let (_, subject) = try #require(try fixture.people().min { $0.key < $1.key })
        _ = try fixture.dpo().erase(subject: try fixture.email(of: subject))   // owed, never sent
        let publisher = Publisher(vault: fixture.owner, policy: fixture.policy)
        let people = try publisher.retire(purpose: "marketing", role: .analyst, from: fixture.target("old"))
        #expect(people > 0)
        for index in fixture.servers.servers.indices {
            #expect(try fixture.servers.client(index).integer("SELECT count() FROM system.tables WHERE database = 'old'") == 0)
        }
        let (copies, pending) = try fixture.owner.database.read { (try RemoteCopies.copies(in: $0), try RemoteCopies.pending(in: $0)) }
        #expect(copies.isEmpty && pending.isEmpty)
        #expect(throws: PublishError.self) { try publisher.retire(purpose: "marketing", role: .analyst, from: fixture.target("old")) }
        #expect(try fixture.owner.auditEntries(AuditFilter(action: .publishRetire)).count == 1)
    }

    @Test("RowBinary as ClickHouse reads it: NULLs, long and awkward strings, integers and reals, each as the column's type")
    func rowBinary() throws {
        let servers = try LocalClickHouse(count: 1)
        let file = try DatabaseQueue()
        let long = String(repeating: "é\t\n\\'x", count: 40)   // 240+ bytes: a two-byte length
        try file.write { db in
            try db.execute(sql: """
                CREATE TABLE single_view (customer_id TEXT PRIMARY KEY NOT NULL, note TEXT, visits INTEGER, spend REAL, score REAL NOT NULL);
                INSERT INTO single_view VALUES ('a', ?, 3, 2.5, 1), ('b', NULL, NULL, NULL, 0.125), ('c', '', -7, 1e-7, 42);
                """, arguments: [long])
        }
        let schema = try file.read { try RemoteSchema(database: "bin", purpose: "p", sharded: false, file: $0) }
        let table = try #require(schema.tables.first)
        #expect(table.columns.map(\.type) == ["String", "Nullable(String)", "Nullable(Int64)", "Nullable(Float64)", "Float64"])
        let client = servers.client(0)
        try client.execute("CREATE DATABASE bin")
        try client.execute(schema.createStorage(table, partsLifetime: 30))
        let rows = try file.read { try PersonRows.rows(of: table, in: $0) }
        try client.insert(into: schema.name(table), rows: rows)
        let back = try client.rows("SELECT customer_id, note, visits, spend, score FROM bin.p_single_view ORDER BY customer_id")
        #expect(back == [["a", long, "3", "2.5", "1"], ["b", "\\N", "\\N", "\\N", "0.125"], ["c", "", "-7", "1e-7", "42"]])
    }

    @Test("one shard: plain MergeTree tables, no cluster needed")
    func singleShard() throws {
        let fixture = try PublishFixture(customers: 40, shards: 1)
        let report = try fixture.publish(database: "one")
        let rows = try fixture.servers.client(0).integer("SELECT count() FROM one.marketing_single_view")
        #expect(rows == report.manifest.people)
        let engine = try fixture.servers.client(0).execute("SELECT engine FROM system.tables WHERE database = 'one' AND name = 'marketing_single_view'")
        #expect(engine == "MergeTree")
    }
}
