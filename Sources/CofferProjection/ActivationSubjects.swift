package import CofferPolicy
package import CofferStore
import Foundation
import GRDB

/// In the files audiences are exported from (the activation purpose, for a role
/// that may activate), each row's subject id, so that an export can check every
/// member against the vault's live state (consent, restriction, erasure,
/// opt-outs, sends) at the moment data leaves. Not a table analyst SQL may read;
/// purged with the person.
package enum ActivationSubjects {
    package static let table = "activation_subjects"

    /// Whether `role`'s file of `purpose` holds the table.
    package static func held(by role: Role, purpose: String, policy: Policy) -> Bool {
        role.permissions.contains(.activate) && purpose == policy.activation.purpose
    }

    static func write(ids: [String], subjects: [SubjectID], into db: Database) throws {
        try db.execute(sql: "CREATE TABLE \(table) (customer_id TEXT PRIMARY KEY NOT NULL, subject_id BLOB NOT NULL) WITHOUT ROWID")
        let statement = try db.makeStatement(sql: "INSERT INTO \(table) VALUES (?, ?)")
        for (id, subject) in zip(ids, subjects) { try statement.execute(arguments: [id, Data(subject.bytes)]) }
    }
}

extension ActivationSubjects {
    /// One member of a segment as the actor's file of the activation purpose holds them.
    package struct Member: Sendable {
        package var subject: SubjectID
        /// The requested single-view fields, as the file holds them (already transformed for the role).
        package var values: [String: Cell]
        /// The campaign variant the member is to get (campaign exports only).
        package var variant: String?
    }

    /// What the actor's file says of `segment`: the fields it holds, and each member with `fields`.
    /// - Throws: `VaultError.notPermitted` unless the actor may activate; `nil` file → `fileMissing`.
    /// `role`: whose file (default the actor's; the owner reads the marketing role's to plan a campaign).
    package static func members(of segment: String, fields: [String], vault: Vault, policy: Policy, role: Role? = nil)
        throws -> (segmentExists: Bool, columns: Set<String>, members: [Member])? {
        let purpose = policy.activation.purpose, role = role ?? vault.role
        let url = ProjectionFile.url(vault.layout, purpose: purpose, role: role)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let key = try ProjectionFile.fileKey(vault.projectionKey(for: role), purpose: purpose)
        let queue = try ProjectionFile.open(url, key: key, vaultID: vault.vaultID, purpose: purpose, role: role)
        return try queue.inDatabase { db in
            guard try db.tableExists(table) else { return nil }
            let columns = Set(try db.columns(in: "single_view").map(\.name))
            let exists = try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM segments WHERE name = ?", arguments: [segment]) ?? false
            let wanted = fields.filter(columns.contains)
            let select = (["a.subject_id"] + wanted.map { "v.\"\($0)\"" }).joined(separator: ", ")
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(select) FROM segment_members m JOIN \(table) a ON a.customer_id = m.customer_id
                JOIN single_view v ON v.customer_id = m.customer_id WHERE m.segment = ? ORDER BY m.customer_id
                """, arguments: [segment])
            let members = try rows.map { row -> Member in
                var values: [String: Cell] = [:]
                for (offset, field) in wanted.enumerated() { values[field] = Cell(row[offset + 1] as DatabaseValue) }
                return Member(subject: try SubjectID(bytes: Array(row[0] as Data)), values: values)
            }
            return (exists, columns, members)
        }
    }
}
