import CofferFormats
package import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// `publish`: a purpose's projection sent to a remote copy (the manifest is the entry's reason).
    package static let publish = AuditAction(rawValue: "publish")
    /// `publish sync`: deletes owed to remote copies sent and verified.
    package static let publishSync = AuditAction(rawValue: "publish-sync")
    /// `publish retire`: a copy's tables dropped and the copy forgotten.
    package static let publishRetire = AuditAction(rawValue: "publish-retire")
    /// `publish status` (recorded only when refused).
    package static let publishStatus = AuditAction(rawValue: "publish-status")
}

/// Sends the deletes remote copies are owed, shard by shard, to each shard's
/// local tables (`ALTER … DELETE` does not pass through a `Distributed`
/// table), waits for ClickHouse's mutations to finish, and checks that every
/// shard shows none of the people's rows. Only then is a delete marked
/// verified (and the person's `customer_id` forgotten); a shard that is down or
/// fails leaves the delete queued, counted, with the error, for the next sync.
package struct DeleteSync {
    package struct Failure: Sendable, Equatable {
        package var copy: String
        package var shard: String
        package var error: String
    }

    package struct Report: Sendable {
        /// Deletes verified gone on every shard, and copies they were in.
        package var verified = 0
        package var copies = 0
        package var failures: [Failure] = []
        /// Still pending after this sync (failed, waiting for a publish under way, or copy-wide retention entries).
        package var pending = 0
        /// Deletes left for the publish under way (its own sync sends them).
        package var waiting = 0
        /// Requests whose deletes are now all verified.
        package var requestsCompleted: [String] = []
    }

    let vault: Vault
    let credentials: ClickHouseCredentials
    /// How long to wait for a shard's mutations before counting the try as failed.
    var mutationTimeout: TimeInterval = 60
    /// Ids a statement names at most: each statement is a mutation that rewrites the parts it touches,
    /// so few large ones (with `max_query_size` raised to fit) beat many small ones.
    static let idsPerStatement = 100_000



    package init(vault: Vault, credentials: ClickHouseCredentials) {
        self.vault = vault
        self.credentials = credentials
    }

    /// Sends every pending delete of `copies` (every copy when nil). `duringPublish`: called by the
    /// publish that holds the `PublishLock` (anyone else leaves the deletes to it while it runs).
    package func run(copies only: Set<String>? = nil, duringPublish: Bool = false, now: () -> Int64 = EventLog.now) throws -> Report {
        // The publisher, or compliance (an erasure's deletes are part of answering the request).
        if !vault.role.permissions.contains(.handleRequests) { try vault.require(.publish, for: .publishSync) }
        // A delete removed from the queue outside Coffer would never be sent: refused, not trusted.
        try vault.verifySeals(RemoteCopies.sealedTableNames)
        let (copies, pending) = try vault.database.read { db in
            (try RemoteCopies.copies(in: db), try RemoteCopies.pending(in: db))
        }
        var report = Report()
        var touched: Set<String> = []
        let publishing = !duringPublish && PublishLock.isHeld(vault.layout)
        for copy in copies where only?.contains(copy.id) ?? true {
            let owed = pending.filter { $0.copyID == copy.id && $0.customerID != nil }
            guard !owed.isEmpty else { continue }
            // A publish is under way: rows it sends could land after this delete, which would be taken
            // as verified gone. Left for that publish's own sync.
            if publishing {
                report.waiting += owed.count
                continue
            }
            report.copies += 1
            let ids = owed.compactMap(\.customerID)
            do {
                for shard in copy.shards {
                    do {
                        try delete(ids, from: copy, shard: shard)
                    } catch let error as PublishError {
                        report.failures.append(Failure(copy: copy.id, shard: shard, error: error.description))
                        throw error
                    }
                }
                let at = now()
                try vault.database.write { db in
                    try RemoteCopies.verified(owed.map(\.id), at: at, removalDue: at + Int64(copy.partsLifetime) * 1000, in: db)
                }
                report.verified += owed.count
                touched.formUnion(owed.compactMap(\.requestID))
            } catch let error as PublishError {
                try vault.database.write { try RemoteCopies.failed(owed.map(\.id), error: error.description, in: $0) }
            }
        }
        let still = try vault.database.read { try RemoteCopies.pending(in: $0) }
        report.pending = still.count
        let open = Set(still.compactMap(\.requestID))
        report.requestsCompleted = touched.subtracting(open).sorted()
        if report.copies > 0 {
            try vault.audit(.publishSync, rows: report.verified, reason: "\(report.verified) remote deletes verified on every shard"
                + (report.failures.isEmpty ? "" : ", \(report.failures.count) shard(s) failed, their deletes stay queued")
                + (report.requestsCompleted.isEmpty ? "" : "; requests with every remote copy verified gone: "
                    + report.requestsCompleted.joined(separator: ", ")))
        }
        return report
    }

    /// Deletes `ids` from the copy's person tables on one shard, waits for the mutations, and checks none is left.
    func delete(_ ids: [String], from copy: RemoteCopy, shard: String) throws {
        let client = ClickHouseClient(base: try ClickHouseClient.baseURL(shard), credentials: credentials)
        for table in RemoteSchema.personTables {
            let name = "\(copy.purpose)_\(table)" + (copy.shards.count > 1 ? "_local" : "")
            guard try client.integer("EXISTS TABLE `\(copy.database)`.`\(name)`") == 1 else { continue }
            try client.run(for: ids) { "ALTER TABLE `\(copy.database)`.`\(name)` DELETE WHERE customer_id IN (\($0))" }
            try waitForMutations(client, database: copy.database, table: name, shard: shard)
            let left = try client.run(for: ids) { "SELECT count() FROM `\(copy.database)`.`\(name)` WHERE customer_id IN (\($0))" }
                .reduce(0) { $0 + (Int($1) ?? 1) }   // an answer that is not a count is not taken for 0
            guard left == 0 else {
                throw PublishError.verificationFailed(shard: shard, detail: "\(left) row(s) of \(name) still there after the delete")
            }
        }
    }

    /// Polls `system.mutations` until the table has none unfinished.
    func waitForMutations(_ client: ClickHouseClient, database: String, table: String, shard: String) throws {
        try Self.waitForMutations(client, database: database, table: table, shard: shard, timeout: mutationTimeout)
    }

    static func waitForMutations(_ client: ClickHouseClient, database: String, table: String, shard: String,
                                 timeout mutationTimeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(mutationTimeout)
        var pause = 0.005
        while try client.integer("SELECT count() FROM system.mutations WHERE database = \(literal(database)) "
            + "AND table = \(literal(table)) AND is_done = 0") > 0 {
            guard Date() < deadline else {
                throw PublishError.verificationFailed(shard: shard, detail: "the delete on \(table) had not finished after \(Int(mutationTimeout)) s")
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.2)
        }
    }

    /// A ClickHouse string literal.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

}

extension ClickHouseClient {
    /// Runs `statement(list)` for each batch of `ids` (at most `DeleteSync.idsPerStatement`), `list` being
    /// their SQL literals, with ClickHouse's limits raised to fit (its defaults: `max_query_size` 256 KiB,
    /// `max_ast_elements` 50,000). Returns each statement's answer.
    @discardableResult
    func run(for ids: [String], _ statement: (String) -> String) throws -> [String] {
        try stride(from: 0, to: ids.count, by: DeleteSync.idsPerStatement).map { start in
            let batch = ids[start..<min(start + DeleteSync.idsPerStatement, ids.count)]
            let sql = statement(batch.map(DeleteSync.literal).joined(separator: ", "))
            let elements = String(max(2 * batch.count + 10_000, 50_000))
            return try execute(sql, settings: ["max_query_size": String(max(sql.utf8.count + 4096, 262_144)),
                                               "max_ast_elements": elements, "max_expanded_ast_elements": elements])
        }
    }
}
