@testable import CofferPolicy
import CofferStore
import Foundation
import Testing

struct ProcessingRecordTests {
    @Test func testTheRecordIsGeneratedFromThePolicy() throws {
        let policy = try PolicyLoader.load(path: defaultPolicyPath())
        let record = ProcessingRecord(policy: policy, now: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(record.purposes.map(\.name) == ["analytics", "marketing", "personalisation", "support", "email_marketing", "sms_marketing",
                                                "push_marketing"])
        #expect(record.purposes[1].lawfulBasis == "consent")
        #expect(record.purposes[1].consentValidFor == "24m")
        #expect(record.purposes[1].access["marketing"]?["direct_identifier"] == "allow")
        #expect(record.purposes[1].access["analyst"]?["sensitive"] == "deny")
        #expect(record.purposes[3].access["analyst"] == nil, "analysts have no access for support")
        #expect(record.dataCategories.first { $0.name == "quasi_identifier" }?.fields.contains("birthday") == true)
        #expect(record.retention["page"] == "13m")
        #expect(record.policySHA256 == policy.sha256)

        // Issue 16, item 7: controller, DPO, data subjects, recipients and transfers per purpose, retention as it stands.
        #expect(record.controller.contact == "privacy@coffer-cafe.example")
        #expect(record.controller.dpo == "Data protection officer, dpo@coffer-cafe.example")
        #expect(record.dataSubjects.contains("customers"))
        #expect(record.purposes[1].recipients == ["email service provider", "advertising platforms (custom audiences)"])
        #expect(record.purposes[1].transfers.count == 1)
        #expect(record.purposes[0].recipients == [])
        #expect(record.retentionEnforcement.hasPrefix("Enforced for collected events"))
        #expect(!(record.controllerNote.contains("the policy is what the software enforces")))

        let markdown = record.markdown()
        #expect(markdown.contains("| marketing | Email and social campaigns, offers and audiences. | consent | required, valid 24m |"))
        #expect(markdown.contains("- Data protection officer: Data protection officer, dpo@coffer-cafe.example"))
        #expect(markdown.contains("email service provider, advertising platforms (custom audiences) | United States"))
        #expect(markdown.contains("`coffer retention apply` destroys them by month"))
        #expect(markdown.contains("their declared periods are not applied"), "what is not enforced is said")
        #expect(markdown.contains("| page | 13m |"))
        #expect(markdown.contains("| auditor | list-actors, read-audit |"))
        let decoded = try JSONSerialization.jsonObject(with: Data(try record.json().utf8)) as? [String: Any]
        #expect((decoded?["purposes"] as? [[String: Any]])?.count == 7)
        #expect(decoded?["minimumGroupSize"] as? Int == 5)
    }
}
