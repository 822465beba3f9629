import CofferDemo
import CofferIngest
import CofferPolicy
import CofferProjection
@testable import CofferRequests
import CofferStore
import CofferFormats
import Foundation
import Testing
import CofferCrypto

/// Issue 16, item 3: erasure receipts that are right.
struct ErasureCompletionTests {
    struct Interrupted: Error {}

    @Test("an erasure cut off after its shred is finished by a re-run with --request alone, with a receipt")
    func interruptedAfterShred() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        desk.afterErasureStep = { if $0 == "shredded" { throw Interrupted() } }
        #expect(throws: Interrupted.self) { try desk.erase(subject: RequestFixture.bo) }
        let open = try #require(try desk.list().last)
        #expect(open.status == .open && open.type == .erase)
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.bo) == nil, "the shred itself committed")
        // The person no longer resolves: --subject would find nobody. The request names them.
        let again = try fixture.desk()
        let signed = try again.erase(subject: nil, request: open.id)
        #expect(signed.receipt.request == open.id)
        #expect(signed.receipt.subjects.count == 1 && signed.receipt.shred.keysDestroyed == 1)
        #expect(signed.receipt.traceCheck.clean, "\(signed.receipt.traceCheck.findings)")
        #expect(signed.receipt.traceCheck.valuesSearched == 2, "the saved trace material (email, last name) was searched for")
        #expect(try RequestDesk.verify(signed, publicKey: fixture.owner.keys().auditSigning.publicKey).request == open.id)
        let closed = try #require(try again.list().first { $0.id == open.id })
        #expect(closed.status == .completed)
        #expect(closed.notes.last?.contains("completed by a second run after an interruption") == true)
        // Closed: the sealed trace material is gone from the register.
        #expect(closed.pendingErasure == nil)
        #expect(throws: RequestError.self) { try again.erase(subject: nil, request: open.id) }
    }

    @Test("an erasure cut off before its shred is simply run again, and an unknown identifier is registered with a receipt")
    func interruptedBeforeShredAndUnknown() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        desk.afterErasureStep = { if $0 == "purged" { throw Interrupted() } }
        #expect(throws: Interrupted.self) { try desk.erase(subject: RequestFixture.bo) }
        let open = try #require(try desk.list().last)
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.bo) != nil, "nothing shredded yet")
        let signed = try fixture.desk().erase(subject: RequestFixture.bo, request: open.id)
        #expect(signed.receipt.request == open.id && signed.receipt.traceCheck.clean)

        let nobody = Identifier(type: .email, raw: "nobody@example.com")!
        let none = try fixture.desk().erase(subject: nobody)
        #expect(none.receipt.subjects.isEmpty && none.receipt.traceCheck.clean)
        #expect(none.receipt.traceCheck.valuesSearched == 1)
        let registered = try #require(try fixture.desk().list().last)
        #expect(registered.id == none.receipt.request && registered.status == .completed)
        #expect(registered.notes.last?.hasPrefix("no data held for this identifier") == true)
    }

    @Test("50 random erasures of demo customers are all clean (no chance matches of shared values)")
    func fiftyRandomErasures() throws {
        let fixture = try RequestFixture()
        let data = try fixture.ingestDemo(customers: 300, seed: 15)
        var emails: [String] = []
        for line in data.segmentLines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any],
                  let email = (object["traits"] as? [String: Any])?["email"] as? String else { continue }
            if !emails.contains(email.lowercased()) { emails.append(email.lowercased()) }
        }
        #expect(emails.count >= 100)
        var generator = SeededGenerator(seed: 2026)
        let chosen = Array(emails.shuffled(using: &generator).prefix(50))
        var unclean: [String] = []
        for email in chosen {
            let receipt = try fixture.desk().erase(subject: Identifier(type: .email, raw: email)!).receipt
            if !receipt.traceCheck.clean { unclean.append(receipt.traceCheck.findings.joined(separator: "; ")) }
        }
        #expect(unclean.isEmpty, "\(unclean.count) of 50 not clean: \(unclean.prefix(3))")
    }
}

/// Issue 16, item 5: the default analyst and marketing projections cannot be joined row by row.
struct LinkageTests {
    @Test("analytics (analyst) and marketing (marketing) files share no unique combination of purchase times and spend")
    func noOneToOneJoin() throws {
        let fixture = try RequestFixture()
        _ = try fixture.ingestDemo(customers: 600, seed: 16)
        func combinations(_ purpose: String, _ role: Role) throws -> [String: Int] {
            let inspector = try ProjectionInspector(vault: fixture.owner, purpose: purpose, role: role)
            // What a joiner would match on: the three columns as the file shows them (a missing one is a value too).
            let rows = try inspector.rows(sql: "SELECT first_time_shop, last_time_shop, total_spend FROM single_view")
            return rows.reduce(into: [:]) { $0[$1.map { $0 == .null ? "∅" : $0.description }.joined(separator: "|"), default: 0] += 1 }
        }
        let analytics = try combinations("analytics", .analyst)
        let marketing = try combinations("marketing", .marketing)
        let nothing = "∅|∅|∅"
        #expect(analytics.filter { $0.key != nothing }.values.allSatisfy { $0 >= 5 })
        #expect(marketing.filter { $0.key != nothing }.values.allSatisfy { $0 >= 5 })
        let oneToOne = marketing.filter { $0.key != nothing && $0.value == 1 && analytics[$0.key] == 1 }
        #expect(oneToOne.isEmpty, "\(oneToOne.count) people could be joined")
        // The coarsened values still serve analysts: most people keep their (rounded) spend.
        let people = analytics.values.reduce(0, +)
        let withSpend = analytics.filter { !$0.key.hasSuffix("|∅") }.values.reduce(0, +)
        #expect(people > 500 && Double(withSpend) / Double(people) > 0.5, "\(withSpend) of \(people) keep total_spend")
    }
}

extension RequestFixture {
    /// Generated café customers ingested on top of the fixture's three, with projections built.
    func ingestDemo(customers: Int, seed: UInt64) throws -> DemoDataSet {
        var configuration = DemoConfiguration()
        configuration.customers = customers
        configuration.seed = seed
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: owner, policy: policy)
        let now = now
        ingestor.clock = { now }   // the same events land on any day
        _ = try ingestor.ingest(records: data.segmentLines, file: "demo:segment.jsonl", format: .jsonl)
        _ = try ingestor.ingest(records: data.retailRows, file: "demo:retail.csv", format: .csv,
                                mapping: data.retailMapping, header: data.retailHeader)
        try build()
        return data
    }
}
