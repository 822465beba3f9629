import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB

/// A vault in a fresh temporary directory, removed when the test ends.
/// Uses a cheap scrypt cost so tests stay fast; production uses `.passphraseDefault`.
final class TemporaryVault {
    static let testKDF = Scrypt.Parameters(logN: 10, r: 8, p: 1)
    static let passphrase = "correct horse battery staple"

    let directory: URL
    let layout: VaultLayout

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("coffer-test-\(UUID().uuidString)")
        layout = VaultLayout(directory: directory.appendingPathComponent("vault"))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func create() throws -> Vault {
        try Vault.create(layout: layout, ownerPassphrase: SecureBytes(Array(Self.passphrase.utf8)), kdf: Self.testKDF)
    }

    func unlock(_ passphrase: String = passphrase) throws -> Vault {
        try Vault.unlock(layout: layout, passphrase: SecureBytes(Array(passphrase.utf8)))
    }

    /// A raw connection that bypasses the append-only triggers, as an attacker
    /// with the files would.
    func attacker() throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: layout.database.path)
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;")
            try db.execute(sql: "DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS checkpoints_no_delete;")
        }
        return queue
    }

    /// Every byte of every file under the vault directory, by file name.
    func allFiles() throws -> [(name: String, bytes: Data)] {
        var out: [(String, Data)] = []
        let enumerator = FileManager.default.enumerator(at: layout.directory, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            if (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
                out.append((url.lastPathComponent, try Data(contentsOf: url)))
            }
        }
        return out
    }
}

/// Events with recognisable payloads for `count` subjects.
func sampleEvents(subjects: [SubjectID], perSubject: Int, marker: String = "MARKER") -> [NewEvent] {
    var events: [NewEvent] = []
    for round in 0..<perSubject {
        for (index, subject) in subjects.enumerated() {
            let payload = #"{"email":"\#(marker)-user\#(index)@example.com","event":"purchase","round":\#(round)}"#
            events.append(NewEvent(subject: subject, kind: round == 0 ? .identify : .track, payload: Array(payload.utf8),
                                   recordedAt: 1_700_000_000_000 + Int64(round * 1000 + index)))
        }
    }
    return events
}
