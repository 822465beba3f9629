import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing
import CofferFormats

/// Issue 16, item 2: withdrawing consent, or objecting, takes effect at once.
struct ConsentEffectTests {
    /// Rows of the person whose customer key is `key` in every file of `purpose`.
    static func rows(of key: String, purpose: String, in fixture: RequestFixture) throws -> Int {
        try ProjectionPurge.customerIDs(of: key, vault: fixture.owner, policy: fixture.policy)
            .filter { $0.purpose == purpose }
            .reduce(0) { total, file in
                guard let id = file.id else { return total }
                return total + (try ProjectionInspector(vault: fixture.owner, purpose: purpose, role: file.role).rows(withCustomerIDs: [id]))
            }
    }

    @Test("a withdrawal in a Segment event empties the person out of the marketing files before any rebuild")
    func segmentWithdrawal() throws {
        let fixture = try RequestFixture()
        #expect(try Self.rows(of: "u2", purpose: "marketing", in: fixture) > 0, "Bo consented to marketing")
        let report = try fixture.ingest("""
            {"type":"track","event":"Consent Updated","userId":"u2","timestamp":"2026-02-25T00:00:00Z","context":{"consent":{"categoryPreferences":{"marketing":false}}}}
            """)
        #expect(report.withdrawals.count == 1)
        let outcomes = try ConsentEffects.apply(report.withdrawals, vault: fixture.owner, policy: fixture.policy)
        #expect(outcomes.map(\.rowsRemoved).reduce(0, +) > 0)
        #expect(try Self.rows(of: "u2", purpose: "marketing", in: fixture) == 0)
        #expect(try Self.rows(of: "u1", purpose: "marketing", in: fixture) > 0, "Ann stays")
        #expect(try fixture.supportRows()["bo@example.com"] != nil, "and Bo stays where no consent is needed")
        #expect(try fixture.owner.auditEntries(AuditFilter(action: .projectionPurge)).count == 1)
    }

    @Test("a withdrawal by consent CSV or on the command line takes effect at once; a later grant in the same import keeps the person")
    func csvAndDeskWithdrawals() throws {
        let fixture = try RequestFixture()
        let path = fixture.directory.appendingPathComponent("c.csv")
        try """
            subject,purpose,status,timestamp
            email:bo@example.com,marketing,withdrawn,2026-02-25T00:00:00Z
            email:ann@example.com,marketing,withdrawn,2026-02-25T00:00:00Z
            email:ann@example.com,marketing,granted,2026-02-26T00:00:00Z
            """.write(to: path, atomically: true, encoding: .utf8)
        let report = try ConsentImporter(vault: fixture.owner, policy: fixture.policy).importCSV(path: path.path)
        try ConsentEffects.apply(report.withdrawals, vault: fixture.owner, policy: fixture.policy)
        #expect(try Self.rows(of: "u2", purpose: "marketing", in: fixture) == 0)
        #expect(try Self.rows(of: "u1", purpose: "marketing", in: fixture) > 0, "Ann granted again after withdrawing")
    }

    @Test("an objection (Art. 21) to a legitimate-interests purpose takes the person out now and in every build; consent purposes refuse it")
    func objection() throws {
        let fixture = try RequestFixture()
        let desk = try ConsentDesk(vault: fixture.owner, policy: fixture.policy)
        #expect(throws: ConsentError.notObjectable(purpose: "marketing", basis: "consent")) {
            try desk.makeObjection(purpose: "marketing", effectiveAt: fixture.now, source: "test")
        }
        #expect(try Self.rows(of: "u1", purpose: "analytics", in: fixture) > 0)
        let record = try desk.makeObjection(purpose: "analytics", effectiveAt: fixture.now, source: "letter")
        let result = try desk.record(record, for: RequestFixture.ann)
        try ConsentEffects.apply([ConsentChange(subject: result.subject, purpose: "analytics")], vault: fixture.owner, policy: fixture.policy)
        #expect(try Self.rows(of: "u1", purpose: "analytics", in: fixture) == 0, "at once")
        try fixture.build()
        #expect(try Self.rows(of: "u1", purpose: "analytics", in: fixture) == 0, "and in the next build")
        #expect(try Self.rows(of: "u2", purpose: "analytics", in: fixture) > 0)
        let state = try #require(try desk.report(for: RequestFixture.ann)).state(of: "analytics", at: fixture.now)
        #expect(state.description == "objected")
    }

    @Test("consent validity in months is counted on the calendar")
    func calendarMonths() throws {
        let january31 = try #require(Timestamp.parse("2026-01-31T10:00:00Z"))
        #expect(Timestamp.format(PolicyDuration("1m")!.adding(to: january31)) == "2026-02-28T10:00:00.000Z")
        #expect(Timestamp.format(PolicyDuration("24m")!.adding(to: january31)) == "2028-01-31T10:00:00.000Z")
        #expect(Timestamp.format(PolicyDuration("1y")!.adding(to: try #require(Timestamp.parse("2028-02-29T00:00:00Z"))))
            == "2029-02-28T00:00:00.000Z")
        let fixture = try RequestFixture()
        let grant = try ConsentDesk(vault: fixture.owner, policy: fixture.policy)
            .makeRecord(purpose: "marketing", status: .granted, effectiveAt: january31, source: "test")
        #expect(grant.expiresAt.map(Timestamp.format) == "2028-01-31T10:00:00.000Z")
    }
}
