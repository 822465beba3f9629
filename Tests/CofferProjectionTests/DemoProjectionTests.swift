import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing
import CofferFormats
import CofferTestSupport

struct DemoProjectionTests {
    /// After the demo is ingested and every projection built, no email, phone or
    /// name of it is in any file of the vault directory (projections included).
    @Test func testNoPersonalDataInTheVaultAfterProjectBuild() throws {
        let fixture = try ProjectionFixture()
        var configuration = DemoConfiguration()
        configuration.customers = 40
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: fixture.owner, policy: fixture.policy)
        ingestor.clock = { configuration.start + 380 * 86_400_000 }   // the demo year just ended, on any day
        _ = try ingestor.ingest(records: data.segmentLines, file: "demo:segment.jsonl", format: .jsonl)
        _ = try ingestor.ingest(records: data.retailRows, file: "demo:retail.csv", format: .csv, mapping: data.retailMapping,
                                header: data.retailHeader)
        let report = try fixture.build()
        #expect(report.people > 40)
        var secrets = Set<String>()
        for line in data.segmentLines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any],
                  let traits = object["traits"] as? [String: Any] else { continue }
            for key in ["email", "phone", "firstName", "lastName"] {
                if let value = traits[key] as? String {
                    secrets.insert(value.trimmingCharacters(in: .whitespaces))
                    if key == "email", let email = Identifier(type: .email, raw: value) { secrets.insert(email.value) }
                    if key == "phone", let phone = Identifier(type: .phone, raw: value) { secrets.insert(phone.value) }
                }
            }
        }
        #expect(secrets.count > 100)
        var files = 0
        let enumerator = FileManager.default.enumerator(at: fixture.layout.directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            guard let bytes = try? Data(contentsOf: url) else { continue }
            files += 1
            for secret in secrets {
                // Short names are searched in quoted form (4 random bytes match by chance).
                let needle = secret.utf8.count >= 8 ? Data(secret.utf8) : Data("\"\(secret)\"".utf8)
                #expect(bytes.range(of: needle) == nil, "'\(secret)' in \(url.lastPathComponent)")
            }
        }
        #expect(files >= 8, "database, audit ledger, keyslots and six projections")
    }
}
