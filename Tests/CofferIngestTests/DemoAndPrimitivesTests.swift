import CofferDemo
import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import Testing
import CofferFormats
import CofferTestSupport

struct DemoTests {
    @Test("the demo data set is deterministic for a seed and differs for another")
    func deterministic() {
        var configuration = DemoConfiguration()
        configuration.customers = 40
        let a = DemoGenerator.generate(configuration), b = DemoGenerator.generate(configuration)
        #expect(a.segmentJSONL == b.segmentJSONL && a.retailCSV == b.retailCSV)
        configuration.seed = 7
        #expect(DemoGenerator.generate(configuration).segmentJSONL != a.segmentJSONL)
    }

    @Test("after ingesting the demo and reading it back, no email, phone or name of it is anywhere in the vault or the audit ledger")
    func noPlaintextAfterDemo() throws {
        let fixture = try IngestFixture()
        var configuration = DemoConfiguration()
        configuration.customers = 60
        let data = DemoGenerator.generate(configuration)
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let ingestor = try Ingestor(vault: fixture.vault, policy: policy)
        ingestor.clock = { configuration.start + 380 * 86_400_000 }   // the demo year just ended, on any day
        let segment = try ingestor.ingest(records: data.segmentLines, file: "demo:segment.jsonl", format: .jsonl)
        let retail = try ingestor.ingest(records: data.retailRows, file: "demo:retail.csv", format: .csv,
                                         mapping: data.retailMapping, header: data.retailHeader)
        #expect(segment.accepted > 1000 && retail.accepted > 100)
        #expect(segment.quarantined > 0 && retail.quarantined == 2)

        // Collect every identifier and name the generator put into the data.
        var secrets = Set<String>()
        for line in data.segmentLines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any],
                  let traits = object["traits"] as? [String: Any] else { continue }
            for key in ["email", "phone", "firstName", "lastName", "loyaltyId"] {
                if let value = traits[key] as? String {
                    secrets.insert(value.trimmingCharacters(in: .whitespaces))
                    if key == "phone" { secrets.insert(Identifier(type: .phone, raw: value)!.value) }
                    if key == "email" { secrets.insert(Identifier(type: .email, raw: value)!.value) }
                }
            }
        }
        secrets.formUnion(["Flat White", "Lovely flat white", "C100001", "example.com"])
        #expect(secrets.count > 150)
        // Reads are audited: the ledger must not learn who was looked up.
        #expect(try fixture.summary("email:\(data.sampleEmail)") != nil)
        #expect(try ConsentDesk(vault: fixture.vault, policy: policy).report(for: Identifier(argument: "email:\(data.sampleEmail)")!) != nil)
        #expect(try fixture.vault.auditEntries().count >= 5)
        let files = try fixture.vaultBytes()
        #expect(files.contains { $0.0 == "audit.sqlite" })
        for (name, bytes) in files {
            // Short names are searched in their quoted JSON form: 4 raw bytes turn up in a
            // megabyte of ciphertext by chance about once in 4,000 names.
            for secret in secrets where secret.count >= 4 {
                let needle = secret.utf8.count >= 8 ? Data(secret.utf8) : Data("\"\(secret)\"".utf8)
                #expect(bytes.range(of: needle) == nil, "'\(secret)' found in \(name)")
            }
        }
        // Yet the owner can read it all back.
        #expect(try fixture.summary("email:\(data.sampleEmail)")?.identifiers.contains { $0.type == .phone } == true)
        #expect(try fixture.vault.auditEntries(AuditFilter(action: .subjectShow)).count == 2)
    }
}

struct NormalisationTests {
    @Test("timestamps: zones, fractions, impossible dates", arguments: [
        ("2026-01-01T00:00:00Z", Int64(1_767_225_600_000)),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600_000),
        ("2025-12-31T19:00:00-0500", 1_767_225_600_000),
        ("2026-01-01T00:00:00.250Z", 1_767_225_600_250),
        ("2024-02-29T12:00:00Z", 1_709_208_000_000),
    ])
    func timestamps(_ text: String, _ millis: Int64) {
        #expect(Timestamp.parse(text) == millis)
        #expect(Timestamp.parse(Timestamp.format(millis)) == millis)
    }

    @Test("formatting agrees with Foundation's ISO 8601 formatter over 2,000 times from 1970 to 9999, and pads years below 1000")
    func formatMatchesFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SeededGenerator(seed: 8601)
        for _ in 0..<2_000 {
            // Whole seconds through Foundation (no rounding of a binary fraction), the milliseconds on their own.
            let seconds = Int64.random(in: 0...253_402_300_799, using: &generator), ms = Int64.random(in: 0...999, using: &generator)
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(seconds))).dropLast() + "." + String(format: "%03d", ms) + "Z"
            #expect(Timestamp.format(seconds * 1000 + ms) == expected, "\(seconds)")
        }
        #expect(Timestamp.format(-62_135_596_800_000 + 86_400_000 * 365) == "0002-01-01T00:00:00.000Z")
        #expect(Timestamp.format(1_767_225_599_999) == "2025-12-31T23:59:59.999Z")
    }

    @Test("invalid timestamps are refused", arguments: ["2026-01-01", "2026-01-01T00:00:00", "2025-02-29T00:00:00Z",
                                                        "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "01/02/2026 10:00",
                                                        "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00+1"])
    func invalidTimestamps(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("identifiers normalise or are refused")
    func identifiers() {
        #expect(Identifier(type: .email, raw: " A.B@Example.COM ")?.value == "a.b@example.com")
        #expect(Identifier(type: .email, raw: "no-at-sign") == nil)
        #expect(Identifier(type: .email, raw: "a@b") == nil)
        #expect(Identifier(type: .phone, raw: "+1 (415) 555-0100")?.value == "+14155550100")
        #expect(Identifier(type: .phone, raw: "0044 7700 900123")?.value == "+447700900123")
        #expect(Identifier(type: .phone, raw: "07700 900123") == nil)  // no country code
        #expect(Identifier(type: .phone, raw: "+12") == nil)
        #expect(Identifier(argument: "email:X@Y.org")?.description == "email:x@y.org")
        #expect(Identifier(argument: "passport:123") == nil)
    }
}
