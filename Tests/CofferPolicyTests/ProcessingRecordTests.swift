@testable import CofferPolicy
import CofferStore
import Foundation
import XCTest

final class ProcessingRecordTests: XCTestCase {
    func testTheRecordIsGeneratedFromThePolicy() throws {
        let policy = try PolicyLoader.load(path: defaultPolicyPath())
        let record = ProcessingRecord(policy: policy, now: Date(timeIntervalSince1970: 1_800_000_000))
        XCTAssertEqual(record.purposes.map(\.name), ["analytics", "marketing", "personalisation", "support"])
        XCTAssertEqual(record.purposes[1].lawfulBasis, "consent")
        XCTAssertEqual(record.purposes[1].consentValidFor, "24m")
        XCTAssertEqual(record.purposes[1].access["marketing"]?["direct_identifier"], "allow")
        XCTAssertEqual(record.purposes[1].access["analyst"]?["sensitive"], "deny")
        XCTAssertNil(record.purposes[3].access["analyst"], "analysts have no access for support")
        XCTAssertTrue(record.dataCategories.first { $0.name == "quasi_identifier" }?.fields.contains("birthday") == true)
        XCTAssertEqual(record.retention["page"], "13m")
        XCTAssertEqual(record.policySHA256, policy.sha256)

        // Issue 16, item 7: controller, DPO, data subjects, recipients and transfers per purpose, retention as it stands.
        XCTAssertEqual(record.controller.contact, "privacy@coffer-cafe.example")
        XCTAssertEqual(record.controller.dpo, "Data protection officer, dpo@coffer-cafe.example")
        XCTAssertTrue(record.dataSubjects.contains("customers"))
        XCTAssertEqual(record.purposes[1].recipients, ["email service provider", "advertising platforms (custom audiences)"])
        XCTAssertEqual(record.purposes[1].transfers.count, 1)
        XCTAssertEqual(record.purposes[0].recipients, [])
        XCTAssertTrue(record.retentionEnforcement.hasPrefix("Enforced for collected events"))
        XCTAssertFalse(record.controllerNote.contains("the policy is what the software enforces"))

        let markdown = record.markdown()
        XCTAssertTrue(markdown.contains("| marketing | Email and social campaigns, offers and audiences. | consent | required, valid 24m |"))
        XCTAssertTrue(markdown.contains("- Data protection officer: Data protection officer, dpo@coffer-cafe.example"))
        XCTAssertTrue(markdown.contains("email service provider, advertising platforms (custom audiences) | United States"))
        XCTAssertTrue(markdown.contains("`coffer retention apply` destroys them by month"))
        XCTAssertTrue(markdown.contains("their declared periods are not applied"), "what is not enforced is said")
        XCTAssertTrue(markdown.contains("| page | 13m |"))
        XCTAssertTrue(markdown.contains("| auditor | list-actors, read-audit |"))
        let decoded = try JSONSerialization.jsonObject(with: Data(try record.json().utf8)) as? [String: Any]
        XCTAssertEqual((decoded?["purposes"] as? [[String: Any]])?.count, 4)
        XCTAssertEqual(decoded?["minimumGroupSize"] as? Int, 5)
    }
}
