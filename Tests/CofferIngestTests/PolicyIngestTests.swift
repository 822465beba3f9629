import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import Testing

/// What a policy changes at ingest: declared identifiers join identities; fields are classified.
@Suite struct PolicyIngestTests {
    static let policyText = """
        purposes:
          analytics: { lawful_basis: legitimate_interests }
        field_classes:
          direct_identifier: [email, crm_id, first_name]
          behavioural: [spend]
        access:
          analyst:
            purposes:
              analytics: { direct_identifier: tokenise, behavioural: allow }
        identifiers:
          - { field: traits.crm_id, type: crm }
          - { field: properties.member, type: member }
        """

    @Test("an identifier the policy declares links records and merges subjects that share it")
    func declaredIdentifiersMerge() throws {
        let fixture = try IngestFixture()
        let policy = try PolicyLoader.parse(Self.policyText, file: "test.yaml")
        let path = try fixture.file("crm.jsonl", jsonl([
            ["type": "identify", "userId": "u1", "traits": ["crm_id": " CRM-7 "], "timestamp": "2025-01-01T00:00:00Z"],
            ["type": "identify", "userId": "u2", "timestamp": "2025-01-02T00:00:00Z"],
            ["type": "track", "event": "Joined", "userId": "u2", "properties": ["member": 991],
             "timestamp": "2025-01-03T00:00:00Z"],
            ["type": "identify", "userId": "u2", "traits": ["crm_id": "CRM-7"], "timestamp": "2025-01-04T00:00:00Z"],
            ["type": "identify", "userId": "u3", "traits": ["crm_id": ["not", "a", "string"]], "timestamp": "2025-01-05T00:00:00Z"],
        ]))
        let report = try fixture.ingest(path, policy: policy)
        #expect(report.accepted == 4)
        #expect(report.merges == 1, "u2 shares crm:CRM-7 with u1")
        #expect(report.reasons == ["wrong type: traits.crm_id must be a string (a crm identifier)": 1])
        let person = try #require(try fixture.summary("crm:CRM-7"))
        #expect(Set(person.identifiers.map(\.description)) == ["user:u1", "user:u2", "crm:CRM-7", "member:991"])
        #expect(try fixture.summary("member:991")?.subject == person.subject)
        // Without the policy, the same identifier is not an identity.
        let plain = try IngestFixture()
        _ = try plain.ingest(try plain.file("crm.jsonl", String(contentsOfFile: path, encoding: .utf8)))
        #expect(try plain.summary("crm:CRM-7") == nil)
    }

    @Test("fields the policy does not classify are counted, by name, and names that look like data are not echoed")
    func unclassifiedFieldsAreReported() throws {
        let fixture = try IngestFixture()
        let policy = try PolicyLoader.parse(Self.policyText, file: "test.yaml")
        let path = try fixture.file("fields.jsonl", jsonl([
            ["type": "identify", "userId": "u1", "traits": ["firstName": "Ann", "email": "ann@example.com", "shoeSize": 38],
             "timestamp": "2025-01-01T00:00:00Z"],
            ["type": "track", "event": "Bought", "userId": "u1", "properties": ["spend": 3, "colour": "red",
                                                                                  "ann@example.com": true],
             "timestamp": "2025-01-02T00:00:00Z"],
            ["type": "track", "event": "Bought", "userId": "u1", "properties": ["colour": "blue"], "timestamp": "2025-01-03T00:00:00Z"],
        ]))
        let report = try fixture.ingest(path, policy: policy)
        #expect(report.accepted == 3)
        #expect(report.unclassifiedFields == ["shoeSize": 1, "colour": 2, "(field with an unusual name)": 1],
                "firstName is first_name; email and spend are classified")
    }

    @Test("snake_case folding of event field names")
    func snakeCase() {
        #expect(Policy.snakeCase("firstName") == "first_name")
        #expect(Policy.snakeCase("loyaltyID") == "loyalty_id")
        #expect(Policy.snakeCase("Cart-Size") == "cart_size")
        #expect(Policy.snakeCase("order_id") == "order_id")
        #expect(Policy.snakeCase("createdAt") == "created_at")
    }
}
