import CofferAnalysis
@testable import CofferPolicy
@testable import CofferProjection
import CofferStore
import Testing
import CofferTestSupport

/// `SingleViewColumn.all` is the one description of the single view: these
/// tests hold the row, the projection's SQL, the payload scanner and the
/// shipped policy to it.
struct SingleViewColumnTests {
    @Test func testEveryValueOfARowHasItsColumnsType() throws {
        let fixture = try ProjectionFixture()
        try fixture.ingest(#"{"type":"identify","userId":"u1","timestamp":"2026-01-02T00:00:00Z","traits":{"lastName":"Lee","zip":"SW1A 1AA","city":"London"}}"# + "\n"
            + #"{"type":"track","event":"Review Submitted","userId":"u1","timestamp":"2026-01-03T00:00:00Z","properties":{"rating":4}}"# + "\n"
            + #"{"type":"screen","userId":"u1","name":"Home","timestamp":"2026-01-04T00:00:00Z","context":{"device":{"token":"tok-1"}}}"# + "\n")
        let builder = try ProjectionBuilder(vault: fixture.owner, policy: fixture.policy, segments: [])
        let read = try builder.aggregates()
        #expect(read.people.count == 3)
        var seen = Set<String>()
        // The analysis columns, from models with the CDNOW paper's parameters.
        let history = PurchaseHistory(repeatPurchases: 2, recency: 30, age: 60, meanSpend: 12)
        let value = try #require(CustomerValue(history: history, unit: .day, purchases: BGNBD(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426),
                                               spend: GammaGamma(p: 6.25, q: 3.74, gamma: 15.44), monthlyDiscount: 0.008))
        let analysis = CustomerAnalysis.Person(rfm: RFM.scores([RFM.Input(recencyDays: 3, frequency: 2, monetary: 20)])[0], value: value,
                                               recommendations: ["Croissant"])
        for (subject, aggregate) in read.people {
            let row = SingleView.row(aggregate, subject: subject, now: fixture.now, consents: [true], analysis: analysis)
            #expect(row.count == SingleViewColumn.all.count + 1)
            for (column, cell) in zip(SingleViewColumn.all, row) {
                switch (column.type, cell) {
                case (_, .null): continue
                case (.integer, .integer), (.real, .real), (.text, .text): seen.insert(column.name)
                default: Issue.record("\(column.name) is \(column.type) but the row holds \(cell)")
                }
            }
            #expect(row.last == .integer(1), "the consent columns follow the table")
        }
        // Every column held a value for someone, so every type was checked.
        #expect(seen == Set(SingleViewColumn.names))
    }

    @Test func testTheProjectionDeclaresTheTablesTypesForUntransformedColumns() throws {
        let allow = Decision(transform: .allow, rule: nil, reason: "test")
        let coarsened = Decision(transform: .generalise, rule: nil, reason: "test")
        for column in SingleViewColumn.all {
            #expect(ProjectionBuilder.sqlType(of: column.name, decision: allow) == column.type.rawValue)
            #expect(ProjectionBuilder.sqlType(of: column.name, decision: coarsened) == "TEXT", "a generalised value is text")
        }
        #expect(ProjectionBuilder.sqlType(of: SingleView.consentColumn("marketing"), decision: allow) == "INTEGER")
    }

    @Test func testTheScannerReadsEverySourceKeyIntoItsColumnsSlots() throws {
        #expect(Set(SingleViewColumn.traitKeys).count == SingleViewColumn.traitKeys.count, "a key feeds one column")
        for column in SingleViewColumn.all {
            for (slot, key) in zip(column.slots, column.sourceKeys) {
                let fields = try #require(PayloadFields.scan(Array(#"{"traits":{"\#(key)":"v"}}"#.utf8)))
                #expect(fields.traits[slot] == .text("v"), "\(column.name) reads \(key)")
            }
        }
    }

    @Test func testTheShippedPolicyClassifiesEveryColumnAsTheTableSays() throws {
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        for column in SingleViewColumn.all {
            #expect(policy.fieldClasses[column.name]?.contains(column.fieldClass) == true,
                    "\(column.name): the table says \(column.fieldClass.rawValue), the policy \(policy.fieldClasses[column.name] ?? [])")
        }
    }
}
