import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
@testable import CofferRequests
import CofferStore
import Foundation
import GRDB
import Testing
import ZIPFoundation
import CofferFormats
import CofferTestSupport

struct RestrictionAndRectificationTests {
    @Test func testRestrictionHidesAndLiftingRestores() throws {
        let fixture = try RequestFixture()
        let desk = try fixture.desk()
        let (record, outcomes) = try desk.restrict(subject: RequestFixture.bo, reason: "accuracy contested")
        #expect(record.status == .completed)
        #expect(outcomes.map(\.rowsRemoved).reduce(0, +) > 0)
        #expect(try fixture.supportRows()["bo@example.com"] == nil, "taken out of the projections at once")
        let report = try fixture.build()
        #expect(report.restricted == 1)
        #expect(try fixture.supportRows()["bo@example.com"] == nil, "and left out of every build")
        #expect(try fixture.supportRows()["ann@example.com"] != nil)
        #expect(try fixture.owner.subjectSummary(for: RequestFixture.bo) != nil, "the data is kept")

        _ = try desk.lift(subject: RequestFixture.bo)
        #expect(try fixture.build().restricted == 0)
        #expect(try fixture.supportRows()["bo@example.com"] != nil)
        do { _ = try desk.lift(subject: RequestFixture.bo); Issue.record("expected an error") } catch {
            #expect(error as? RequestError == .notRestricted(RequestFixture.bo.description))
        }
        #expect(try desk.list().last?.status == .refused, "a lift with nothing to lift is answered, not left open")
        let kinds = try fixture.owner.eventLog().events(of: try #require(try fixture.owner.subjectSummary(for: RequestFixture.bo)).subject).map(\.kind)
        #expect(kinds.filter { $0 == .restrict }.count == 2, "restriction and lifting are both in the log")
    }

    @Test func testARestrictionFollowsAMerge() throws {
        let fixture = try RequestFixture()
        try fixture.ingest(#"{"type":"page","anonymousId":"visitor-7","name":"Menu","timestamp":"2026-02-01T09:00:00Z"}"#)
        _ = try fixture.desk().restrict(subject: Identifier(type: .anonymousID, raw: "visitor-7")!)
        // The visitor turns out to be Cy: the merged person stays restricted.
        let merged = try fixture.ingest(#"{"type":"alias","previousId":"visitor-7","userId":"u3","timestamp":"2026-02-02T09:00:00Z"}"#)
        #expect(merged.merges == 1)
        #expect(try fixture.build().restricted == 1)
        #expect(try fixture.supportRows()["cy@example.com"] == nil)
    }

    @Test func testRectificationChangesTheSingleView() throws {
        let fixture = try RequestFixture()
        #expect(try fixture.supportRows()["ann@example.com"]?["age"] == .integer(37))
        let corrections = try RequestDesk.corrections(["last_name=Winterbourne", "age=38", "city=Dumfries"])
        let record = try fixture.desk().rectify(subject: RequestFixture.ann, set: corrections)
        #expect(record.logSeq != nil)
        try fixture.build()
        let ann = try #require(fixture.supportRows()["ann@example.com"])
        #expect(ann["age"] == .integer(38))
        #expect(ann["last_name"] == .text("Winterbourne"))
        #expect(ann["city"] == .text("Dumfries"))
        #expect(ann["first_name"] == .text("Annabelle"), "fields not corrected stay")
    }

    @Test func testCorrectionsAreChecked() throws {
        do { _ = try RequestDesk.corrections(["email=x@example.com"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("identifier")) }
        do { _ = try RequestDesk.corrections(["shoe_size=42"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("cannot be rectified")) }
        do { _ = try RequestDesk.corrections(["age=old"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("number")) }
        do { _ = try RequestDesk.corrections(["age=nan"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("number")) }
        do { _ = try RequestDesk.corrections(["birthday=17/05/1989"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("date")) }
        do { _ = try RequestDesk.corrections(["last_name"]); Issue.record("expected an error") } catch { #expect("\(error)".contains("FIELD=VALUE")) }
        let corrected = try RequestDesk.corrections(["first_name= Ann "])
        #expect(corrected == ["firstName": "Ann"])
    }

    @Test func testARectificationMaySetExactlyTheRectifiableColumnsByAnyOfTheirNames() throws {
        for column in SingleViewColumn.all {
            let value = column.unit == .date ? "1990-04-17" : column.type == .text ? "x" : "7"
            for name in [column.name] + column.sourceKeys {
                if column.rectifiable {
                    let corrections = try RequestDesk.corrections(["\(name)=\(value)"])
                    #expect(corrections == [column.sourceKeys[0]: value], "\(name) sets the trait the build reads first")
                } else {
                    #expect(throws: (any Error).self, "\(name) cannot be rectified") { try RequestDesk.corrections(["\(name)=\(value)"]) }
                }
            }
        }
    }
}
