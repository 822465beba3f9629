import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferStore
import Foundation
import GRDB
import CofferTestSupport

/// A fresh vault and a scratch directory for input files; removed at the end.
final class IngestFixture {
    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    var layout: VaultLayout { scratch.layout }
    let vault: Vault

    init() throws {
        scratch = try ScratchVault("ingest", passphrase: "ingest test passphrase")
        vault = try scratch.create()
    }

    /// Writes `text` to a file in the scratch directory and returns its path.
    func file(_ name: String, _ text: String) throws -> String { try scratch.file(name, text).path }

    func ingest(_ path: String, mapping: CSVMapping? = nil, mappingPath: String? = nil, policy: Policy? = nil) throws -> IngestReport {
        try Ingestor(vault: vault, policy: policy).ingest(path: path, mapping: mapping, mappingPath: mappingPath)
    }

    /// The person `id` names; any well-formed type is accepted (tests use policy-declared ones too).
    func summary(_ id: String) throws -> SubjectSummary? {
        let type = id.split(separator: ":").first.flatMap { IdentifierType(rawValue: String($0)) }
        return try vault.subjectSummary(for: Identifier(argument: id, declaredTypes: type.map { [$0] } ?? [])!)
    }

    func quarantined() throws -> [QuarantinedRecord] {
        let store = try vault.quarantine()
        return try vault.database.read { try store.all(in: $0) }
    }

    /// Decrypted payloads of a person's events (all merged subjects), as JSON objects.
    func payloads(_ id: String) throws -> [[String: Any]] {
        guard let summary = try summary(id) else { return [] }
        let log = try vault.eventLog()
        return try ([summary.subject] + summary.merged).flatMap { try log.events(of: $0) }
            .sorted { $0.seq < $1.seq }
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.payload)) as? [String: Any] }
    }

    /// Every byte of every file in the vault directory.
    func vaultBytes() throws -> [(String, Data)] {
        try FileManager.default.contentsOfDirectory(at: layout.directory, includingPropertiesForKeys: nil)
            .map { ($0.lastPathComponent, try Data(contentsOf: $0)) }
    }
}

func jsonl(_ objects: [[String: Any]]) -> String {
    objects.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        .joined(separator: "\n") + "\n"
}
