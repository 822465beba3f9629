import CofferCrypto
import CofferIngest
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import GRDB
import Testing
import CofferPolicy

/// Issue 15, class 2: the clear tables a build trusts cannot be changed by
/// someone who can write `vault.sqlite` but holds no key.
struct SealedStateTests {
    /// Edits the vault's database as an attacker with write access would: a
    /// plain connection (no Coffer functions), triggers dropped first.
    static func tamper(_ fixture: RequestFixture, _ sql: String) throws {
        let queue = try DatabaseQueue(path: fixture.layout.database.path)
        try queue.write { db in
            for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_seal_%'") {
                try db.execute(sql: "DROP TRIGGER \(name)")
            }
            try db.execute(sql: sql)
            #expect(db.changesCount > 0, "\(sql)")
        }
        try queue.close()
    }

    static func expectRefused(_ fixture: RequestFixture, table: String) throws {
        #expect {
            try fixture.build()
        } throws: { error in
            guard case let .tamperedTable(_, name)? = error as? VaultError else { return false }
            return name == table && (error as! VaultError).description.contains("changed outside Coffer")
        }
    }

    @Test("a withdrawn consent flipped back to granted in the clear table is refused, not built")
    func flippedConsent() throws {
        let fixture = try RequestFixture()
        try fixture.ingest("""
            {"type":"track","event":"Consent Updated","userId":"u2","timestamp":"2026-01-10T00:00:00Z","context":{"consent":{"categoryPreferences":{"marketing":false}}}}
            """)
        try fixture.build()
        try Self.tamper(fixture, "UPDATE consents SET status = 'granted' WHERE status = 'withdrawn' AND purpose = 'marketing'")
        try Self.expectRefused(fixture, table: "consents")
    }

    @Test("a deleted restriction, suppression, merge or erasure row is refused")
    func deletedRows() throws {
        for (table, sql) in [("restrictions", "DELETE FROM restrictions"), ("merges", "DELETE FROM merges"),
                             ("erasures", "DELETE FROM erasures"), ("suppressions", "DELETE FROM suppressions")] {
            let fixture = try RequestFixture()
            fixture.policy.suppressReturningIdentifiers = true
            let desk = try fixture.desk()
            _ = try desk.restrict(subject: RequestFixture.bo, reason: "contested")
            _ = try desk.erase(subject: RequestFixture.cy)
            try fixture.build()  // every seal holds after the vault's own changes
            try Self.tamper(fixture, sql)
            try Self.expectRefused(fixture, table: table)
            if table == "suppressions" {
                #expect(throws: VaultError.self) { try Ingestor(vault: fixture.owner, policy: fixture.policy) }
            }
        }
    }

    @Test("a deleted seal, or a row inserted without the key, is refused; a connection without the key cannot write")
    func sealsThemselves() throws {
        let fixture = try RequestFixture()
        try Self.tamper(fixture, "DELETE FROM seals WHERE name = 'consents'")
        try Self.expectRefused(fixture, table: "consents")

        let other = try RequestFixture()
        try Self.tamper(other, "INSERT INTO restrictions(subject_id, request_id, since) VALUES (randomblob(16), 'DSR-9999', 0)")
        try Self.expectRefused(other, table: "restrictions")

        // Without dropping the triggers, a plain connection cannot change a sealed table at all.
        let third = try RequestFixture()
        let queue = try DatabaseQueue(path: third.layout.database.path)
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "DELETE FROM consents") } }
        try queue.close()
        try third.build()
    }

    @Test("odd text (an embedded NUL, invalid UTF-8) is sealed as GRDB reads it: the vault's writes verify, the digest is an older vault's")
    func oddText() throws {
        let fixture = try RequestFixture()
        let vault = fixture.owner
        // Through the vault's own connection: the seal trigger's function runs.
        try vault.database.write { db in
            try db.execute(sql: """
                INSERT INTO suppressions(token, request_id, since) VALUES
                    (X'01', CAST(X'4453522D00312D32' AS TEXT), 1), (X'02', CAST(X'FF4453522D33' AS TEXT), 2), (X'03', 'DSR-4', 3.5)
                """)
        }
        try vault.verifySeals(["suppressions"])
        // The digest as the seals were computed before (GRDB's values: text up to a NUL, invalid UTF-8 repaired).
        let mac = try HMACSHA256(key: try vault.keys().stateSeal)
        let (stored, rows) = try vault.database.read { db in
            (Array(try #require(try Data.fetchOne(db, sql: "SELECT digest FROM seals WHERE name = 'suppressions'"))),
             try Row.fetchAll(db, sql: "SELECT token, request_id, since FROM suppressions"))
        }
        // A row's bytes as the seals have always read them, written out here on their own: the table's name (length-
        // prefixed), then each value's type, and for text and blobs their length, then its bytes.
        func bytes(_ row: Row) -> [UInt8] {
            var out: [UInt8] = []
            func length(_ count: Int) { withUnsafeBytes(of: UInt32(count).littleEndian) { out += $0 } }
            length("suppressions".utf8.count)
            out += Array("suppressions".utf8)
            for index in 0..<3 {
                switch (row[index] as DatabaseValue).storage {
                case .null: out.append(0)
                case let .int64(number): out.append(1); withUnsafeBytes(of: number.littleEndian) { out += $0 }
                case let .double(number): out.append(2); withUnsafeBytes(of: number.bitPattern.littleEndian) { out += $0 }
                case let .string(text): out.append(3); length(text.utf8.count); out += Array(text.utf8)
                case let .blob(data): out.append(4); length(data.count); out += Array(data)
                }
            }
            return out
        }
        var lanes = [UInt64](repeating: 0, count: 4)
        for row in rows {
            let tag = try mac.authenticate(bytes(row))
            for lane in 0..<4 {
                lanes[lane] &+= (0..<8).reduce(UInt64(0)) { $0 | UInt64(tag[lane * 8 + $1]) << (8 * UInt64($1)) }
            }
        }
        let expected = lanes.flatMap { lane in (0..<8).map { UInt8(truncatingIfNeeded: lane >> (8 * UInt64($0))) } }
        #expect(rows.count == 3 && stored == expected)
    }
}
