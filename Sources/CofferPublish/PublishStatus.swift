package import CofferStore
import GRDB

/// `publish status`: the published copies, and every delete still owed with its age.
package struct PublishStatus: Sendable {
    package struct Copy: Sendable {
        package var copy: RemoteCopy
        package var people: Int
    }

    package struct Pending: Sendable {
        package var delete: RemoteDelete
        package var purpose: String
        package var ageMillis: Int64
        /// Older than the policy's `remote_delete_deadline`.
        package var overdue: Bool
    }

    package var copies: [Copy]
    package var pending: [Pending]
    /// A publish holds the vault's `PublishLock` now (its deletes wait for it).
    package var publishRunning = false
    package var overdue: Int { pending.count(where: \.overdue) }

    /// - Parameter deadline: ms a delete may stay unverified (`Policy.remoteDeleteDeadline`).
    package static func load(vault: Vault, deadline: Int64, now: Int64) throws -> PublishStatus {
        // The publisher, or compliance (who answers for the deletes an erasure owes).
        if !vault.role.permissions.contains(.handleRequests) { try vault.require(.publish, for: .publishStatus) }
        try vault.verifySeals(RemoteCopies.sealedTableNames)
        return try vault.database.read { db in
            let copies = try RemoteCopies.copies(in: db)
            let people = try copies.map { Copy(copy: $0, people: try RemoteCopies.people(of: $0.id, in: db).count) }
            let purposes = Dictionary(uniqueKeysWithValues: copies.map { ($0.id, $0.purpose) })
            let pending = try RemoteCopies.pending(in: db).map { delete in
                Pending(delete: delete, purpose: purposes[delete.copyID] ?? "?", ageMillis: now - delete.queuedAt,
                        overdue: now - delete.queuedAt > deadline)
            }
            return PublishStatus(copies: people, pending: pending, publishRunning: PublishLock.isHeld(vault.layout))
        }
    }

    /// "3 h 5 min", "42 s".
    package static func age(_ millis: Int64) -> String {
        let seconds = max(millis / 1000, 0)
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min" }
        if seconds < 86_400 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
    }
}
