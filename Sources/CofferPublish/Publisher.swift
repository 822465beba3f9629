import CofferCrypto
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferStore
import Foundation
import GRDB
import Synchronization

/// What a publish sent, signed into the audit trail as the `publish` entry's reason.
package struct PublishManifest: Codable, Sendable, Equatable {
    package var format = "coffer-publish-manifest/1"
    package var copy: String
    package var purpose: String
    package var role: String
    package var database: String
    package var cluster: String?
    package var shards: [String]
    /// Rows each remote table holds after the publish (person tables summed over the shards).
    package var tables: [String: Int]
    package var people: Int
    /// People whose rows were sent for the first time, sent again (changed), and deleted (no longer held).
    package var added: Int
    package var replaced: Int
    package var removed: Int
    /// The tables were (re)created: a first publish, or the file's columns changed.
    package var full: Bool
    package var policySHA256: String
    /// The log's head when publishing, and the position the projection was built through.
    package var logHeadSeq: Int64
    package var logHeadHash: String
    package var builtThroughSeq: Int64
    package var publishedAt: String
    /// Seconds ClickHouse keeps replaced parts on disk (`old_parts_lifetime`).
    package var partsLifetime: Int
}

/// What `publish` did.
package struct PublishReport: Sendable {
    package var manifest: PublishManifest
    /// People in the file whom the purpose may no longer hold (consent lapsed or withdrawn, restricted, erased since the build).
    package var leftOutNow: Int
    /// The person tables were rewritten (the unchanged rows copied shard-side, the changed ones sent) and swapped in.
    package var rewritten: Bool
    package var sync: DeleteSync.Report
    package var seconds: Double
    /// Seconds per phase: read (the file, digests), record (the vault's transactions), send (the tables made,
    /// replaced people's old rows deleted, rows sent, a rewrite swapped in, the shared tables), sync (owed
    /// deletes), verify (mutations done, counts), manifest.
    package var timings: [String: Double] = [:]
}

/// `coffer publish`: sends a purpose's projection, exactly as the policy
/// transforms it for a role (the role's file, built by `project build`), to
/// ClickHouse, and records in the vault whom each copy holds.
///
/// The first publish (or one after the file's columns changed) creates the
/// tables; later ones replace only the people whose rows changed, delete the
/// people the purpose no longer holds, and leave the rest alone. The vault
/// records a person as published *before* their rows are sent, so an erasure
/// that lands mid-publish still queues its delete; a publish cut off midway
/// leaves the copy marked, and the next one rewrites it whole. Every publish
/// ends with a sync of the deletes owed and a check of the row counts.
package struct Publisher {
    let vault: Vault
    let policy: Policy
    /// Rows sent per INSERT (memory stays bounded by one chunk, whatever the projection's size).
    package var chunkRows = 25_000
    /// From this many people changed on, the person tables are rewritten and swapped in rather than the changed
    /// people's rows deleted. Measured at 100,000 people on two loopback shards (the send phase): delete and
    /// insert 0.18 s for 808 people, 0.54 s for 2,673, 0.85 s for 8,343, 4.17 s for 35,001; a rewrite 0.45–0.64 s
    /// whatever the number (an 18.16 delete is a mutation that rewrites every part holding one of the people).
    package var rewriteAbove = 2_500
    /// Up to this many people in the file, two threads read it, each from its own decrypted copy (beyond, one:
    /// memory stays at one copy, as the builder writes files one at a time beyond the same number).
    package var twoReadersUpTo = ProjectionBuilder.parallelWriteLimit
    /// Bytes of changed people's rows kept from the read to be sent (beyond them, the file is read again to send).
    package var keptBytes = 256 << 20
    /// Fault injection for tests: called after each step ("copying" when a rewrite's copy started, "recorded", "sent")
    /// and may throw, as a kill there would stop it.
    package var afterStep: (String) throws -> Void = { _ in }
    /// What the publish is doing, for progress displays ("reading …", "sent N of M people", "syncing deletes").
    package var progress: (String) -> Void = { _ in }

    package init(vault: Vault, policy: Policy) {
        self.vault = vault
        self.policy = policy
    }

    package func publish(purpose name: String, role: Role, to target: PublishTarget, now: () -> Int64 = EventLog.now) throws -> PublishReport {
        let clock = Date()
        var phase = Date(), timings: [String: Double] = [:]
        func lap(_ name: String) {
            timings[name, default: 0] += Date().timeIntervalSince(phase)
            phase = Date()
        }
        let purpose = try checkAllowed(purpose: name, role: role)
        // One publish at a time; `publish sync` leaves deletes to this one while it runs.
        let lock = try PublishLock(vault.layout)
        defer { withExtendedLifetime(lock) {} }
        var copy = RemoteCopy(purpose: name, role: role.rawValue, database: target.database, cluster: target.cluster,
                              shards: target.shardNames, publishedAt: now(), lastSeq: 0, partsLifetime: target.partsLifetime)
        let known = try vault.database.read { try RemoteCopies.copies(in: $0) }
        if let other = known.first(where: { $0.purpose == name && $0.database == copy.database && $0.shards == copy.shards && $0.role != copy.role }) {
            throw PublishError.otherRole(purpose: name, role: other.role, database: other.database)
        }
        let file = try ProjectionFile.openCurrent(purpose: name, role: role, vault: vault)
        let clients = target.shards.map { ClickHouseClient(base: $0, credentials: target.credentials) }
        // Every shard answers, and takes the credentials, before anything is recorded.
        for client in clients { try client.execute("SELECT 1") }
        let schema = try file.read { try RemoteSchema(database: target.database, purpose: name, sharded: clients.count > 1, file: $0) }
        let rows = PersonRows(schema: schema)
        let previous = known.first { $0.id == copy.id }
        let full = try previous == nil || previous?.publishingSince != nil || !matches(schema, on: clients)
        let published = full ? [:] : try vault.database.read { try RemoteCopies.people(of: copy.id, in: $0) }
        progress("reading projections/\(name).\(role.rawValue).enc")
        // A second copy of the file, for a second thread to read half of the people, while two copies are small.
        let inFile = try file.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM single_view") ?? 0 }
        let files = inFile <= twoReadersUpTo
            ? [file, try ProjectionFile.openCurrent(purpose: name, role: role, vault: vault)] : [file]
        let ranges = files.count > 1 ? try file.read { try PersonRows.Range.halves(of: inFile, in: $0) } : [.all]
        let snapshot = try read(files, ranges: ranges, rows: rows, purpose: purpose, role: role, now: now(), published: full ? nil : published)
        lap("read")

        var plan = self.plan(snapshot, published: published, full: full)
        copy.lastSeq = previous?.lastSeq ?? 0
        // A rewrite: the shards start copying the unchanged rows into new tables now. No row leaves the vault
        // for it, so it need not wait for the record, and it runs while the vault records and sends. The copy
        // is marked as being published first: stopped from here on, the next publish recreates its tables.
        if plan.rewrite { try vault.database.write { try RemoteCopies.publishing(copy.id, since: now(), in: $0) } }
        let unchanged = try plan.rewrite ? startCopy(plan, copy: copy.id, schema: schema, clients: clients, target: target) : nil
        defer { try? unchanged?.wait() }
        if unchanged != nil { try afterStep("copying") }
        // Recorded before anything is sent, with the copy marked as being published: whoever may be on
        // a shard from now on is in `published_people`, so an erasure in the meantime still finds them.
        try record(&plan, copy: copy, now: now())
        lap("record")
        try afterStep("recorded")

        try transfer(plan, unchanged: unchanged, kept: snapshot.kept, from: file, schema: schema, rows: rows, clients: clients, target: target)
        lap("send")
        try afterStep("sent")

        copy.publishedAt = now()
        copy.lastSeq = snapshot.builtThrough
        try vault.database.write { db in
            try RemoteCopies.save(copy, in: db)
            try RemoteCopies.publishing(copy.id, since: nil, in: db)
            // Rows from a build after a retention run: the copy no longer holds what that run destroyed.
            try RemoteCopies.resolveRetention(of: copy.id, builtAt: snapshot.builtAt, at: copy.publishedAt,
                                              removalDue: copy.publishedAt + Int64(target.partsLifetime) * 1000, in: db)
        }
        lap("record")
        progress("sending the deletes owed, checking the shards")
        let sync = try DeleteSync(vault: vault, credentials: target.credentials).run(copies: [copy.id], duringPublish: true, now: now)
        lap("sync")
        let (people, counts) = try verify(copy: copy.id, schema: schema, clients: clients, memberRows: snapshot.memberRows, target: target)
        lap("verify")

        let head = try vault.eventLog().head()
        let manifest = PublishManifest(copy: copy.id, purpose: name, role: role.rawValue, database: target.database, cluster: target.cluster,
                                       shards: target.shardNames, tables: counts, people: people,
                                       added: plan.changed.count - plan.replaced.count, replaced: plan.replaced.count,
                                       removed: plan.gone.count, full: plan.full, policySHA256: policy.sha256, logHeadSeq: head.seq,
                                       logHeadHash: head.hash.hexString, builtThroughSeq: snapshot.builtThrough,
                                       publishedAt: Timestamp.format(copy.publishedAt), partsLifetime: target.partsLifetime)
        try vault.audit(.publish, purpose: name, target: "copy:\(copy.id)", rows: people, reason: try Self.encode(manifest))
        lap("manifest")
        return PublishReport(manifest: manifest, leftOutNow: snapshot.leftOut, rewritten: plan.rewrite, sync: sync, seconds: Date().timeIntervalSince(clock),
                             timings: timings)
    }

    /// `publish retire`: drops the copy's tables from every shard, checks none is left, then forgets the copy
    /// (whom it held, and the deletes it was owed: nothing of it is left to delete). Returns the people it held.
    package func retire(purpose name: String, role: Role, from target: PublishTarget, now: () -> Int64 = EventLog.now) throws -> Int {
        try vault.require(.publish, for: .publishRetire, purpose: name)
        try vault.verifySeals(RemoteCopies.sealedTableNames)
        let lock = try PublishLock(vault.layout)
        defer { withExtendedLifetime(lock) {} }
        let id = RemoteCopy(purpose: name, role: role.rawValue, database: target.database, cluster: target.cluster, shards: target.shardNames,
                            publishedAt: 0, lastSeq: 0, partsLifetime: target.partsLifetime).id
        guard let copy = try vault.database.read({ try RemoteCopies.copies(in: $0) }).first(where: { $0.id == id }) else {
            throw PublishError.noSuchCopy(purpose: name, role: role.rawValue, database: target.database)
        }
        let clients = target.shards.map { ClickHouseClient(base: $0, credentials: target.credentials) }
        for client in clients { try client.execute("SELECT 1") }
        let tables = RemoteSchema.personTables + RemoteSchema.sharedTables
        for client in clients {
            for table in tables {
                for suffix in RemoteSchema.rewriteSuffixes.flatMap({ [$0, "_local" + $0] }) {
                    try client.execute("DROP TABLE IF EXISTS `\(copy.database)`.`\(name)_\(table)\(suffix)`")
                }
            }
            try client.execute("DROP TABLE IF EXISTS \(RemoteSchema.leavingTable(database: copy.database, purpose: name))")
            let names = Set(tables.map { "\(name)_\($0)" })
            let left = try client.rows("SELECT name FROM system.tables WHERE database = \(ClickHouseClient.literal(copy.database))").map(\.[0])
                .filter { table in names.contains { table.hasPrefix($0) } }
            guard left.isEmpty else {
                throw PublishError.verificationFailed(shard: client.base.absoluteString, detail: "still there: \(left.joined(separator: ", "))")
            }
        }
        let people = try vault.database.read { try RemoteCopies.people(of: copy.id, in: $0).count }
        let at = now()
        try vault.database.write { try RemoteCopies.retire(copy.id, at: at, removalDue: at + Int64(copy.partsLifetime) * 1000, in: $0) }
        try vault.audit(.publishRetire, purpose: name, target: "copy:\(copy.id)", rows: people,
                        reason: "tables dropped from \(clients.count) shard(s); the copy and whom it held forgotten")
        return people
    }

    /// The checks before anything is read: the permission (audited when refused), the seals of the tables
    /// a publish trusts, and a purpose the role may read and a `customer_id` a delete can find again.
    private func checkAllowed(purpose name: String, role: Role) throws -> Purpose {
        try vault.require(.publish, for: .publish, purpose: name)
        try vault.usePolicy(sha256: policy.sha256, name: policy.name)
        try vault.verifySeals(RemoteCopies.sealedTableNames + ["consents", "restrictions", "erasures"])
        guard let purpose = policy.purpose(name) else { throw ConsentError.unknownPurpose(name, declared: policy.purposes.map(\.name)) }
        guard RemoteSchema.isIdentifier(name) else { throw PublishError.badName(what: "purpose", name: name) }
        guard policy.access[role]?.purposes[name] != nil else { throw ProjectionError.noAccess(role: role.rawValue, purpose: name) }
        guard try ProjectionPurge.customerID(of: "probe", vault: vault, policy: policy, purpose: name, role: role) != nil else {
            throw PublishError.unstableKey(purpose: name, role: role.rawValue)
        }
        return purpose
    }

    /// Whom the file holds that the purpose may still hold now, with each one's digest; who changed since the
    /// copy's last publish, and their rows while they fit in `keptBytes`.
    private struct Snapshot: Sendable {
        var current: [SubjectID: PublishedPerson] = [:]
        var changed: [SubjectID: PublishedPerson] = [:]
        /// The changed people's rows as read, in file order (nil: they took more than `keptBytes`, and are read again to be sent).
        var kept: [PersonRows.Person]? = []
        var memberRows: [SubjectID: Int] = [:]
        /// People in the file the purpose may no longer hold (consent lapsed or withdrawn, restricted, erased since the build).
        var leftOut = 0
        var builtThrough: Int64 = 0
        var builtAt: Int64 = 0
    }

    /// - Parameters:
    ///   - files: the file, opened once per thread reading it; `files[i]` reads the people of `ranges[i]`.
    ///   - published: whom the copy holds, with their digests (nil: everyone is sent).
    private func read(_ files: [DatabaseQueue], ranges: [PersonRows.Range], rows: PersonRows, purpose: Purpose, role: Role, now: Int64,
                      published: [SubjectID: PublishedPerson]?) throws -> Snapshot {
        guard let map = try SubjectMap.read(purpose: purpose.name, role: role, vault: vault) else {
            throw PublishError.noSubjectMap(purpose: purpose.name, role: role.rawValue)
        }
        let holds = try ProjectionBuilder.holder(of: purpose, vault: vault, at: now)
        let keep = keptBytes / ranges.count, name = purpose.name
        let parts = parallelMap(ranges.count) { part in
            var snapshot = Snapshot(), kept = 0
            try files[part].read { db in
                try rows.forEach(in: db, range: ranges[part]) { person in
                    guard let subject = map[person.customerID] else { throw PublishError.noSubjectMap(purpose: name, role: role.rawValue) }
                    guard holds(subject) else {
                        snapshot.leftOut += 1
                        return
                    }
                    let entry = PublishedPerson(customerID: person.customerID, digest: person.digest)
                    snapshot.current[subject] = entry
                    snapshot.memberRows[subject] = person.memberRows
                    guard published?[subject]?.digest != person.digest else { return }
                    snapshot.changed[subject] = entry
                    kept += person.size
                    if kept > keep { snapshot.kept = nil } else { snapshot.kept?.append(person) }
                }
            }
            return snapshot
        }
        var snapshot = try parts[0].get()
        for part in parts.dropFirst() {
            let more = try part.get()
            snapshot.current.merge(more.current) { $1 }
            snapshot.changed.merge(more.changed) { $1 }
            snapshot.memberRows.merge(more.memberRows) { $1 }
            snapshot.kept = snapshot.kept.flatMap { kept in more.kept.map { kept + $0 } }
            snapshot.leftOut += more.leftOut
        }
        try files[0].read { db in
            snapshot.builtThrough = try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM projection_info WHERE key = 'last_seq'") ?? 0
            snapshot.builtAt = try String.fetchOne(db, sql: "SELECT value FROM projection_info WHERE key = 'built_at'")
                .flatMap { Timestamp.parse($0) } ?? 0
        }
        return snapshot
    }

    /// What a publish changes on the shards.
    private struct Plan {
        /// The person tables are made afresh (a first publish, new columns, or one cut off midway: which rows arrived is unknown).
        var full: Bool
        /// So many people changed that the person tables are rewritten (the unchanged rows copied shard-side) and swapped in.
        var rewrite: Bool
        /// Whom the copy is to hold, and who changed (everyone when `full`).
        var current: [SubjectID: PublishedPerson]
        var changed: [SubjectID: PublishedPerson]
        /// Those the copy held and no longer may.
        var gone: [SubjectID: PublishedPerson]
        /// The `customer_id`s whose old rows make way for their new ones (none when full).
        var replaced: [String]
    }

    /// - Parameter published: whom the copy holds (nothing when `full`).
    private func plan(_ snapshot: Snapshot, published: [SubjectID: PublishedPerson], full: Bool) -> Plan {
        let replaced = snapshot.changed.keys.compactMap { published[$0]?.customerID }
        // Many people changed (a refit moves everyone's scores): the unchanged rows copied into new tables cost
        // less than deleting that many (a delete is a mutation rewriting every part it touches, and waited for).
        return Plan(full: full, rewrite: !full && replaced.count >= rewriteAbove, current: snapshot.current,
                    changed: snapshot.changed, gone: published.filter { snapshot.current[$0.key] == nil }, replaced: replaced)
    }

    /// Marks the copy as being published, queues the departures, and records who it is to hold
    /// (those erased, restricted or withdrawn since the snapshot was read are left out: their trigger ran before).
    private func record(_ plan: inout Plan, copy: RemoteCopy, now: Int64) throws {
        let changed = plan.changed, gone = plan.gone
        let leaving = try vault.database.write { db -> Set<SubjectID> in
            try RemoteCopies.save(copy, in: db)
            try RemoteCopies.publishing(copy.id, since: now, in: db)
            try RemoteCopies.queue(copy.id, customerIDs: gone.map(\.value.customerID), reason: .departure, at: now, in: db)
            let leaving = try RemoteCopies.leaving(changed.keys, purpose: copy.purpose, in: db)
            try RemoteCopies.record(copy.id, upserts: changed.filter { !leaving.contains($0.key) }.map { ($0.key, $0.value) },
                                    removals: Array(gone.keys) + leaving, in: db)
            return leaving
        }
        for subject in leaving {
            plan.current[subject] = nil
            plan.changed[subject] = nil
        }
    }

    /// Creates, deletes, sends and swaps what the plan says, then replaces the shared tables.
    /// - Parameters:
    ///   - unchanged: a rewrite's copy of the unchanged rows, under way.
    ///   - kept: the changed people's rows, when the read kept them.
    private func transfer(_ plan: Plan, unchanged: UnchangedCopy?, kept: [PersonRows.Person]?, from file: DatabaseQueue,
                          schema: RemoteSchema, rows: PersonRows, clients: [ClickHouseClient], target: PublishTarget) throws {
        if plan.full { try create(schema, on: clients, cluster: target.cluster, partsLifetime: target.partsLifetime) }
        let changed = Set(plan.changed.values.map(\.customerID))
        if let unchanged {
            // Sent while the shards copy: the two fill the new tables with different people.
            let sent = Result { try send(changed, kept: kept, from: file, schema: schema, rows: rows, clients: clients, suffix: Self.nextSuffix) }
            try unchanged.wait()
            try sent.get()
            try swap(schema, on: clients)
        } else {
            let replaced = plan.replaced
            try ClickHouseClient.onEach(replaced.isEmpty ? [] : clients) { client in
                for table in schema.tables where table.perPerson {
                    try client.run(for: replaced) { "ALTER TABLE \(schema.storageName(table)) DELETE WHERE customer_id IN (\($0))" }
                }
            }
            try send(changed, kept: kept, from: file, schema: schema, rows: rows, clients: clients)
        }
        try replaceShared(schema, from: file, on: clients[0], partsLifetime: target.partsLifetime)
    }

    /// Creates a rewrite's new tables and starts the shards copying the unchanged rows into them. Not copied: the
    /// changed people, those gone since the last publish, and everyone the copy owes a delete (one queued after
    /// this read is sent by the publish's own sync, after the swap).
    private func startCopy(_ plan: Plan, copy: String, schema: RemoteSchema, clients: [ClickHouseClient],
                           target: PublishTarget) throws -> UnchangedCopy {
        try create(schema, on: clients, cluster: target.cluster, partsLifetime: target.partsLifetime, suffix: Self.nextSuffix)
        let owed = try vault.database.read { try RemoteCopies.pending(of: copy, in: $0) }.compactMap(\.customerID)
        let leaving = Array(Set(plan.replaced + plan.gone.values.map(\.customerID) + owed))
        return UnchangedCopy { try Self.copyUnchanged(schema, leaving: leaving, on: clients) }
    }

    /// Fills each shard's new person tables with the rows of everyone but `ids` from its current ones, shard-side:
    /// the ids go to a `Memory` table on each shard, which the copy's `NOT IN` reads.
    private static func copyUnchanged(_ schema: RemoteSchema, leaving ids: [String], on clients: [ClickHouseClient]) throws {
        let list = ids.reduce(into: [UInt8]()) { PersonRows.appendString(Array($1.utf8), to: &$0) }
        let leaving = schema.leavingTable, next = Self.nextSuffix
        try ClickHouseClient.onEach(clients) { client in
            try client.execute("DROP TABLE IF EXISTS \(leaving)")
            try client.execute("CREATE TABLE \(leaving) (customer_id String) ENGINE = Memory")
            if !list.isEmpty { try client.insert(into: leaving, rows: list) }
            for table in schema.tables where table.perPerson {
                let columns = table.columns.map { "`\($0.name)`" }.joined(separator: ", ")
                try client.execute("INSERT INTO \(schema.storageName(table, suffix: next)) (\(columns)) SELECT \(columns) "
                    + "FROM \(schema.storageName(table)) WHERE customer_id NOT IN (SELECT customer_id FROM \(leaving))")
            }
            try client.execute("DROP TABLE \(leaving)")
        }
    }

    /// Waits for the replacement deletes, then checks the shards hold the rows the vault says the copy
    /// holds. Returns the people and every table's row count (person tables summed over the shards).
    private func verify(copy: String, schema: RemoteSchema, clients: [ClickHouseClient], memberRows: [SubjectID: Int],
                        target: PublishTarget) throws -> (people: Int, counts: [String: Int]) {
        // Each shard at once: its mutations waited for, then every table it stores counted in one query.
        let found = Mutex<[String: Int]>([:]), first = clients[0]
        try ClickHouseClient.onEach(clients) { client in
            try client.waitForMutations(database: schema.database, tables: schema.tables.filter(\.perPerson).map { schema.storageTable($0) })
            let tables = schema.tables.filter { $0.perPerson || client === first }
            let answer = try client.rows(tables.map { "SELECT \(ClickHouseClient.literal($0.source)), count() FROM \(schema.storageName($0))" }
                .joined(separator: " UNION ALL "))
            for row in answer where row.count == 2 {
                guard let rows = Int(row[1]) else {
                    throw PublishError.verificationFailed(shard: client.base.absoluteString, detail: "expected a count, got '\(row[1].prefix(80))'")
                }
                found.withLock { $0["\(schema.purpose)_\(row[0])", default: 0] += rows }
            }
        }
        let counts = found.withLock { $0 }
        let held = try vault.database.read { try RemoteCopies.people(of: copy, in: $0) }
        let expected = ["single_view": held.count, "segment_members": held.keys.reduce(0) { $0 + (memberRows[$1] ?? 0) }]
        for (table, rows) in expected where schema.tables.contains(where: { $0.source == table }) {
            let name = "\(schema.purpose)_\(table)"
            guard counts[name] == rows else {
                throw PublishError.verificationFailed(shard: target.shardNames.joined(separator: ", "),
                                                      detail: "\(name) holds \(counts[name] ?? 0) rows, the vault expected \(rows)")
            }
        }
        return (held.count, counts)
    }

    /// The manifest as the audit entry holds it: sorted-key JSON.
    package static func encode(_ manifest: PublishManifest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(manifest), as: UTF8.self)
    }

    /// Whether every shard has the person tables with exactly the file's columns.
    private func matches(_ schema: RemoteSchema, on clients: [ClickHouseClient]) throws -> Bool {
        for client in clients {
            for table in schema.tables where table.perPerson {
                guard try client.integer("EXISTS TABLE \(schema.storageName(table))") == 1 else { return false }
                let columns = try client.rows("DESCRIBE TABLE \(schema.storageName(table))").map {
                    RemoteSchema.Column(name: $0[0], type: $0.count > 1 ? $0[1] : "")
                }
                guard columns == table.columns.map(Optional.some) else { return false }
            }
        }
        return true
    }

    static let nextSuffix = RemoteSchema.rewriteSuffixes[1], oldSuffix = RemoteSchema.rewriteSuffixes[2]

    /// Creates the database and the person tables afresh on every shard (dropping what was there), or,
    /// with `suffix`, the tables a rewrite fills.
    private func create(_ schema: RemoteSchema, on clients: [ClickHouseClient], cluster: String?, partsLifetime: Int,
                        suffix: String = "") throws {
        try ClickHouseClient.onEach(clients) { client in
            try client.execute("CREATE DATABASE IF NOT EXISTS `\(schema.database)`")
            for table in schema.tables where table.perPerson {
                // Afresh: a rewrite's tables a publish cut off midway left go too.
                for leftover in suffix.isEmpty ? RemoteSchema.rewriteSuffixes : [suffix] {
                    try client.execute("DROP TABLE IF EXISTS \(schema.name(table, suffix: leftover))")
                    try client.execute("DROP TABLE IF EXISTS \(schema.storageName(table, suffix: leftover))")
                }
                try client.execute(schema.createStorage(table, partsLifetime: partsLifetime, suffix: suffix))
                if let cluster, schema.sharded { try client.execute(schema.createDistributed(table, cluster: cluster, suffix: suffix)) }
            }
        }
    }

    /// Puts the rewritten tables in the place of the old ones on every shard (one RENAME each: a query sees
    /// the old table or the new one), and drops the old ones. The Distributed tables name the local
    /// tables, so they read the new ones from then on.
    private func swap(_ schema: RemoteSchema, on clients: [ClickHouseClient]) throws {
        try ClickHouseClient.onEach(clients) { client in
            for table in schema.tables where table.perPerson {
                let current = schema.storageName(table), next = schema.storageName(table, suffix: Self.nextSuffix)
                let old = schema.storageName(table, suffix: Self.oldSuffix)
                try client.execute("DROP TABLE IF EXISTS \(old)")
                try client.execute("RENAME TABLE \(current) TO \(old), \(next) TO \(current)")
                try client.execute("DROP TABLE \(old)")
                if schema.sharded { try client.execute("DROP TABLE IF EXISTS \(schema.name(table, suffix: Self.nextSuffix))") }
            }
        }
    }

    /// Sends the rows of the people in `changed` (those in `kept`, else read again from the file), a chunk at a
    /// time: through the Distributed table (synchronously, so a failed shard fails the publish) on several shards.
    private func send(_ changed: Set<String>, kept: [PersonRows.Person]?, from file: DatabaseQueue, schema: RemoteSchema,
                      rows: PersonRows, clients: [ClickHouseClient], suffix: String = "") throws {
        guard !changed.isEmpty else { return }
        let settings = schema.sharded ? ["insert_distributed_sync": "1"] : [:]
        let view = schema.tables.first { $0.source == "single_view" }!, members = schema.tables.first { $0.source == "segment_members" }
        var viewChunk: [UInt8] = [], memberChunk: [UInt8] = [], count = 0, sent = 0
        func flush() throws {
            if !viewChunk.isEmpty { try clients[0].insert(into: schema.name(view, suffix: suffix), rows: viewChunk, settings: settings) }
            if let members, !memberChunk.isEmpty {
                try clients[0].insert(into: schema.name(members, suffix: suffix), rows: memberChunk, settings: settings)
            }
            viewChunk.removeAll(keepingCapacity: true)
            memberChunk.removeAll(keepingCapacity: true)
            sent += count
            count = 0
            progress("sent \(sent) of \(changed.count) people")
        }
        func add(_ person: PersonRows.Person) throws {
            // Those left out since the read (erased, restricted, withdrawn before the record) are not sent.
            guard changed.contains(person.customerID) else { return }
            viewChunk += person.view
            memberChunk += person.members
            count += 1
            if count >= chunkRows { try flush() }
        }
        if let kept {
            for person in kept { try add(person) }
        } else {
            try file.read { db in try rows.forEach(in: db, add) }
        }
        try flush()
    }

    /// Replaces the shared tables (no person in them) on the first shard.
    private func replaceShared(_ schema: RemoteSchema, from file: DatabaseQueue, on client: ClickHouseClient, partsLifetime: Int) throws {
        try client.execute("CREATE DATABASE IF NOT EXISTS `\(schema.database)`")
        for table in schema.tables where !table.perPerson {
            try client.execute("DROP TABLE IF EXISTS \(schema.name(table))")
            try client.execute(schema.createStorage(table, partsLifetime: partsLifetime))
            let rows = try file.read { try PersonRows.rows(of: table, in: $0) }
            if !rows.isEmpty { try client.insert(into: schema.name(table), rows: rows) }
        }
    }
}

/// Work the shards do on a thread of its own while the publish goes on (a rewrite's copy of the unchanged rows).
private final class UnchangedCopy: @unchecked Sendable {   // `failure` behind its mutex; `done` signalled once by the thread
    private let failure = Mutex<(any Error)?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws -> Void) {
        Thread.detachNewThread {
            do { try work() } catch { self.failure.withLock { $0 = error } }
            self.done.signal()
        }
    }

    /// Waits until the work is over (at once when it was already waited for), and throws its failure.
    func wait() throws {
        done.wait()
        done.signal()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
