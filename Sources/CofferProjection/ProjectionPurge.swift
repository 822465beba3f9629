import CofferCrypto
package import CofferPolicy
package import CofferStore
package import Foundation
package import GRDB
import GRDBSQLite

/// Takes one person out of the projection files already built (erasure,
/// restriction), without a rebuild: each file is decrypted in memory, the
/// person's rows are deleted from `single_view`, `segment_members` and (in the
/// files audiences are exported from) `activation_subjects`
/// (`secure_delete` on, so no freed page or cell keeps them), and the
/// file is sealed and replaced atomically.
///
/// Where a file cannot show which row is the person's (the policy denies or
/// generalises `customer_id` for that role), the whole file is deleted: it is
/// rebuilt from the log by the next `project build`.
package enum ProjectionPurge {
    /// What happened to one projection file.
    package struct Outcome: Sendable, Equatable, Codable {
        /// `PURPOSE.ROLE.enc`
        package var file: String
        /// Rows of the person removed (single view and segment memberships).
        package var rowsRemoved: Int
        /// The file was deleted (and needs `project build`).
        package var fileDeleted: Bool

        /// A projection file, not the saved build state.
        package var isProjection: Bool { file != BuildState.fileName }

        /// The outcome of deleting the saved build state.
        package static let buildStateDeleted = Outcome(file: BuildState.fileName, rowsRemoved: 0, fileDeleted: true)

        package init(file: String, rowsRemoved: Int, fileDeleted: Bool) {
            self.file = file
            self.rowsRemoved = rowsRemoved
            self.fileDeleted = fileDeleted
        }
    }

    /// The `customer_id` the projection of `purpose` for `role` shows for a
    /// person whose untransformed customer key is `key`; nil when the policy
    /// does not let the file show it as a joinable value.
    package static func customerID(of key: String, vault: Vault, policy: Policy, purpose: String, role: Role) throws -> String? {
        let decision = PolicyEngine(policy: policy).decide(actor: vault.actor, role: role, purpose: purpose, action: .query,
                                                           field: "customer_id")
        guard decision.transform == .allow || decision.transform == .tokenise else { return nil }
        let transformer = try FieldTransformer(key: ProjectionFile.fileKey(vault.projectionKey(for: role), purpose: purpose))
        return try transformer.apply(decision, field: "customer_id", to: .text(key)).description
    }

    /// The projection files in the vault, as (purpose, role, url).
    package static func files(_ layout: VaultLayout) -> [(purpose: String, role: Role, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.projections.path)) ?? []
        return names.sorted().compactMap { name in
            let parts = name.split(separator: ".")
            guard parts.count == 3, parts[2] == "enc", let role = Role(rawValue: String(parts[1])) else { return nil }
            return (String(parts[0]), role, layout.projections.appendingPathComponent(name))
        }
    }

    /// Every projection file with the `customer_id` it shows for the person
    /// whose untransformed customer key is `key`: nil where the file cannot show
    /// which row is theirs (the policy denies or generalises `customer_id` for
    /// that role, or no longer declares the purpose).
    package static func customerIDs(of key: String, vault: Vault,
                                   policy: Policy) throws -> [(purpose: String, role: Role, url: URL, id: String?)] {
        try files(vault.layout).map { purpose, role, url in
            (purpose, role, url, policy.purpose(purpose) == nil ? nil
                : try customerID(of: key, vault: vault, policy: policy, purpose: purpose, role: role))
        }
    }

    /// Removes the person whose untransformed customer key is `key` from every
    /// projection file (the files in parallel), and stamps every file as
    /// reconciled through log position `reconciled` (the erasure's or
    /// restriction's event): readers refuse a file stamped earlier than the
    /// latest such event, e.g. one restored from before an erasure.
    package static func remove(customerKey key: String, vault: Vault, policy: Policy, reconciled: Int64) throws -> [Outcome] {
        try remove(customerKeys: [key], from: nil, vault: vault, policy: policy, reconciled: reconciled)
    }

    /// Removes the people whose untransformed customer keys are `keys` from the
    /// files of `purposes` (all files when nil), one pass a file, and stamps
    /// those files as reconciled through `reconciled`.
    package static func remove(customerKeys keys: [String], from purposes: Set<String>?, vault: Vault, policy: Policy,
                              reconciled: Int64) throws -> [Outcome] {
        try purge(customerKeys: keys, from: purposes, vault: vault, policy: policy, reconciled: reconciled, recommendationsOnly: false)
    }

    /// Takes the recommendations of the people whose untransformed customer keys are
    /// `keys` out of the files of `purposes` (they withdrew consent to the
    /// recommendations purpose, but still consent to these): `recommended_items`
    /// becomes NULL and they leave the segments whose rule reads it; the rest of
    /// their rows stay.
    package static func removeRecommendations(customerKeys keys: [String], from purposes: Set<String>, vault: Vault, policy: Policy,
                                              reconciled: Int64) throws -> [Outcome] {
        try purge(customerKeys: keys, from: purposes, vault: vault, policy: policy, reconciled: reconciled, recommendationsOnly: true)
    }

    private static func purge(customerKeys keys: [String], from purposes: Set<String>?, vault: Vault, policy: Policy,
                              reconciled: Int64, recommendationsOnly: Bool) throws -> [Outcome] {
        // Keys and ids first, on this thread (the vault is not thread-safe); then the files.
        var jobs: [Job] = []
        for (purpose, role, url) in files(vault.layout) where purposes?.contains(purpose) ?? true {
            let ids = policy.purpose(purpose) == nil ? nil
                : try keys.map { try customerID(of: $0, vault: vault, policy: policy, purpose: purpose, role: role) }
            guard let ids, !ids.contains(nil) else {
                try deleteFile(url)
                jobs.append(Job(url: url, purpose: purpose, role: role, ids: nil, key: nil))
                continue
            }
            jobs.append(Job(url: url, purpose: purpose, role: role, ids: ids.compactMap { $0 },
                            key: try ProjectionFile.fileKey(vault.projectionKey(for: role), purpose: purpose)))
        }
        if !recommendationsOnly {
            // A map naming someone the file no longer holds would outlive them.
            for job in jobs {
                if let ids = job.ids { try SubjectMap.remove(ids, purpose: job.purpose, role: job.role, vault: vault) } else {
                    try SubjectMap.remove(besides: job.url)
                }
            }
        }
        let vaultID = vault.vaultID, work = jobs
        let removed = parallelMap(work.count, parallel: true) { index -> Int in
            let job = work[index]
            guard let ids = job.ids, let key = job.key else { return 0 }
            return try purge(job.url, customerIDs: ids, key: key, vaultID: vaultID, purpose: job.purpose, role: job.role,
                             reconciled: reconciled, recommendationsOnly: recommendationsOnly)
        }
        return try zip(jobs, removed).map { job, result in
            Outcome(file: job.url.lastPathComponent, rowsRemoved: try result.get(), fileDeleted: job.ids == nil)
        }
    }

    /// One file to purge: `ids` and `key` are nil when it was deleted instead.
    private struct Job: Sendable {
        let url: URL, purpose: String, role: Role, ids: [String]?, key: SymmetricKey?
    }

    /// Deletes the rows of `customerIDs` from one file (or only their recommendations) and
    /// re-seals it; returns the rows removed or changed.
    private static func purge(_ url: URL, customerIDs ids: [String], key: SymmetricKey, vaultID: [UInt8], purpose: String,
                              role: Role, reconciled: Int64, recommendationsOnly: Bool) throws -> Int {
        let queue = try ProjectionFile.open(url, key: key, vaultID: vaultID, purpose: purpose, role: role)
        let removed = try queue.inDatabase { db -> Int in
            // secure_delete zeroes the deleted cells and freed pages in the image.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            if recommendationsOnly {
                return try clearRecommendations(of: ids, in: db, reconciled: reconciled)
            }
            var removed = 0
            let activation = try db.tableExists(ActivationSubjects.table)
            for id in ids {
                if activation {
                    try db.execute(sql: "DELETE FROM \(ActivationSubjects.table) WHERE customer_id = ?", arguments: [id])
                }
                try db.execute(sql: "DELETE FROM single_view WHERE customer_id = ?", arguments: [id])
                removed += db.changesCount
                try db.execute(sql: "DELETE FROM segment_members WHERE customer_id = ?", arguments: [id])
                removed += db.changesCount
            }
            try db.execute(sql: "INSERT OR REPLACE INTO projection_info VALUES (?, ?)",
                           arguments: [ProjectionFile.reconciledKey, String(reconciled)])
            return removed
        }
        // Re-sealed even when the person was not in it: the stamp says the file is current.
        _ = try ProjectionFile.write(queue, to: url, key: key, vaultID: vaultID, purpose: purpose, role: role)
        return removed
    }

    /// `recommended_items` to NULL for `ids`, and their memberships of segments whose rule reads it deleted.
    private static func clearRecommendations(of ids: [String], in db: Database, reconciled: Int64) throws -> Int {
        let field = AnalysisSettings.recommendationsField
        var changed = 0
        let columns = Set(try db.columns(in: "single_view").map(\.name))
        if columns.contains(field) {
            let reading = try Row.fetchAll(db, sql: "SELECT name, rule FROM segments").compactMap { row -> String? in
                let rule: String = row[1]
                // A rule the file cannot parse any more is treated as reading the field: over-removal is the safe side.
                let fields = (try? SegmentRule.parse(rule, knownFields: columns))?.fields ?? [field]
                return fields.contains(field) ? row[0] : nil
            }
            for id in ids {
                try db.execute(sql: "UPDATE single_view SET \"\(field)\" = NULL WHERE customer_id = ? AND \"\(field)\" IS NOT NULL",
                               arguments: [id])
                changed += db.changesCount
                for segment in reading {
                    try db.execute(sql: "DELETE FROM segment_members WHERE segment = ? AND customer_id = ?", arguments: [segment, id])
                    changed += db.changesCount
                }
            }
        }
        try db.execute(sql: "INSERT OR REPLACE INTO projection_info VALUES (?, ?)",
                       arguments: [ProjectionFile.reconciledKey, String(reconciled)])
        return changed
    }

    private static func deleteFile(_ url: URL) throws {
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw VaultError.io(path: url.path, detail: error.localizedDescription)
        }
    }
}

/// Opens a projection file as the vault itself (owner, compliance) for
/// checks that must look inside it, such as the no-trace check after an erasure.
package struct ProjectionInspector {
    private let queue: DatabaseQueue

    package init(vault: Vault, purpose: String, role: Role) throws {
        let key = try ProjectionFile.fileKey(vault.projectionKey(for: role), purpose: purpose)
        queue = try ProjectionFile.open(ProjectionFile.url(vault.layout, purpose: purpose, role: role), key: key,
                                        vaultID: vault.vaultID, purpose: purpose, role: role)
    }

    /// Rows (single view and segment memberships) with one of `ids` as customer_id.
    package func rows(withCustomerIDs ids: [String]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let list = ids.map { _ in "?" }.joined(separator: ", ")
        return try queue.inDatabase { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM single_view WHERE customer_id IN (\(list))", arguments: StatementArguments(ids)) ?? 0)
                + (try Int.fetchOne(db, sql: "SELECT count(*) FROM segment_members WHERE customer_id IN (\(list))",
                                    arguments: StatementArguments(ids)) ?? 0)
        }
    }

    /// The rows of a read-only statement on the file (for checks and tests).
    package func rows(sql: String) throws -> [[Cell]] {
        try queue.inDatabase { db in
            try Row.fetchAll(db, sql: sql).map { row in row.databaseValues.map(Cell.init) }
        }
    }

    /// The decrypted database image, to search its bytes.
    package func image() throws -> [UInt8] {
        try queue.inDatabase { db -> [UInt8] in
            var size: sqlite3_int64 = 0
            guard let pointer = sqlite3_serialize(db.sqliteConnection, "main", &size, 0) else {
                throw VaultError.storage(operation: "reading a projection", detail: "sqlite3_serialize failed")
            }
            defer { sqlite3_free(pointer) }
            return Array(UnsafeBufferPointer(start: pointer, count: Int(size)))
        }
    }
}

extension Cell {
    /// A value as a projection file holds it (single-view columns hold no blobs; one shows as "(blob)").
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case let .int64(number): self = .integer(Int(number))
        case let .double(number): self = .real(number)
        case let .string(text): self = .text(text)
        case .blob: self = .text("(blob)")
        }
    }
}

/// Adds to projection files already built (the owner, who holds every role's
/// projection key): each file of `purpose` is decrypted in memory, changed by
/// `change`, and sealed and replaced atomically, as a purge does.
package enum ProjectionAmend {
    /// Changes every built file of `purpose`; returns the roles whose files were changed.
    @discardableResult
    package static func files(of purpose: String, vault: Vault, change: (Role, Database) throws -> Void) throws -> [Role] {
        var changed: [Role] = []
        for file in ProjectionPurge.files(vault.layout) where file.purpose == purpose {
            let key = try ProjectionFile.fileKey(vault.projectionKey(for: file.role), purpose: purpose)
            let queue = try ProjectionFile.open(file.url, key: key, vaultID: vault.vaultID, purpose: purpose, role: file.role)
            try queue.inDatabase { db in try change(file.role, db) }
            _ = try ProjectionFile.write(queue, to: file.url, key: key, vaultID: vault.vaultID, purpose: purpose, role: file.role)
            changed.append(file.role)
        }
        return changed
    }
}
