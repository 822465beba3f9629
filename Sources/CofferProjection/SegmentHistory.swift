import CofferFormats
import CofferStore
import Foundation
import GRDB

/// Segment sizes build after build, per projection file: kept in the vault
/// (`segment_sizes`, counts only) and written into each file as its
/// `segment_history` table, so a dashboard can draw sizes over time without
/// reading anything but the file. Sizes a file does not list (a segment below
/// the minimum group size, in files analysts and marketers read) are not kept.
package enum SegmentHistory {
    /// One segment's size at one build.
    package struct Row: Sendable, Equatable {
        package var builtAt: Int64
        package var segment: String
        package var people: Int
    }

    /// Builds kept per file.
    static let builds = 100

    static let schema = """
        CREATE TABLE segment_history (built TEXT NOT NULL, segment TEXT NOT NULL, people INTEGER NOT NULL,
            PRIMARY KEY (built, segment)) WITHOUT ROWID;
        """

    /// The kept sizes of `purpose`'s file for `role`, oldest first.
    static func load(purpose: String, role: Role, in db: Database) throws -> [Row] {
        try GRDB.Row.fetchAll(db, sql: """
            SELECT built_at, segment, people FROM segment_sizes WHERE purpose = ? AND role = ? ORDER BY built_at, segment
            """, arguments: [purpose, role.rawValue]).map { Row(builtAt: $0[0], segment: $0[1], people: $0[2]) }
    }

    /// Keeps this build's sizes of one file, and drops builds beyond the last `builds`.
    static func save(_ sizes: [String: Int], purpose: String, role: Role, builtAt: Int64, in db: Database) throws {
        for (segment, people) in sizes {
            try db.execute(sql: "INSERT OR REPLACE INTO segment_sizes VALUES (?, ?, ?, ?, ?)",
                           arguments: [purpose, role.rawValue, builtAt, segment, people])
        }
        try db.execute(sql: """
            DELETE FROM segment_sizes WHERE purpose = ? AND role = ? AND built_at NOT IN
            (SELECT DISTINCT built_at FROM segment_sizes WHERE purpose = ? AND role = ? ORDER BY built_at DESC LIMIT ?)
            """, arguments: [purpose, role.rawValue, purpose, role.rawValue, builds])
    }

    /// Writes `history` and this build's `sizes` into a file's `segment_history`.
    static func write(_ history: [Row], sizes: [String: Int], builtAt: Int64, into db: Database) throws {
        try db.execute(sql: schema)
        let insert = try db.makeStatement(sql: "INSERT OR REPLACE INTO segment_history VALUES (?, ?, ?)")
        for row in history where row.builtAt != builtAt {
            try insert.execute(arguments: [Self.label(row.builtAt), row.segment, row.people])
        }
        for (segment, people) in sizes { try insert.execute(arguments: [Self.label(builtAt), segment, people]) }
    }

    /// A build's time as the table shows it: "2026-11-30 23:45:06" (UTC, to the second).
    static func label(_ millis: Int64) -> String {
        String(Timestamp.format(millis).prefix(19)).replacingOccurrences(of: "T", with: " ")
    }
}
