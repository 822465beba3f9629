import CofferFormats
package import CofferStore
import CofferProjection
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
                let credentials = credentials
                // Every shard at once; each one's failure reported.
                let results = parallelMap(copy.shards.count) { try Self.delete(ids, from: copy, shard: copy.shards[$0], credentials: credentials) }
                let failed = results.indices.compactMap { index -> (String, any Error)? in
                    guard case let .failure(error) = results[index] else { return nil }
                    return (copy.shards[index], error)
                }
                for (shard, error) in failed {
                    report.failures.append(Failure(copy: copy.id, shard: shard, error: (error as? PublishError)?.description ?? "\(error)"))
                }
                if let (shard, error) = failed.first { throw error as? PublishError ?? .unreachable(shard: shard, detail: "\(error)") }
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

    /// Deletes `ids` from the copy's person tables on one shard (and from a rewrite's tables left there), the
    /// tables' mutations running together; waits for them, and checks none of the people is left.
    static func delete(_ ids: [String], from copy: RemoteCopy, shard: String, credentials: ClickHouseCredentials) throws {
        let client = ClickHouseClient(base: try ClickHouseClient.baseURL(shard), credentials: credentials)
        // The tables a rewrite fills and drops too: a publish cut off midway may have left them.
        let names = RemoteSchema.personTables.flatMap { table in
            RemoteSchema.rewriteSuffixes.map { RemoteSchema.storageTable(of: table, purpose: copy.purpose, sharded: copy.shards.count > 1) + $0 }
        }
        let present = Set(try client.rows("SELECT name FROM system.tables WHERE database = \(ClickHouseClient.literal(copy.database)) "
            + "AND name IN (\(names.map(ClickHouseClient.literal).joined(separator: ", ")))").map(\.[0]))
        let tables = names.filter(present.contains)
        for name in tables {
            try client.run(for: ids) { "ALTER TABLE `\(copy.database)`.`\(name)` DELETE WHERE customer_id IN (\($0))" }
        }
        try client.waitForMutations(database: copy.database, tables: tables)
        for name in tables {
            let left = try client.run(for: ids) { "SELECT count() FROM `\(copy.database)`.`\(name)` WHERE customer_id IN (\($0))" }
                .reduce(0) { $0 + (Int($1) ?? 1) }   // an answer that is not a count is not taken for 0
            guard left == 0 else {
                throw PublishError.verificationFailed(shard: shard, detail: "\(left) row(s) of \(name) still there after the delete")
            }
        }
    }
}
