import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import CofferTestSupport

/// A scratch vault (`ScratchVault`: cheap scrypt, removed when the test ends),
/// with what the store's tests add: an attacker's connection and every file's bytes.
final class TemporaryVault {
    static let testKDF = ScratchVault.kdf
    static let passphrase = "correct horse battery staple"

    let scratch: ScratchVault
    var directory: URL { scratch.directory }
    var layout: VaultLayout { scratch.layout }

    init() throws { scratch = try ScratchVault("store", passphrase: Self.passphrase) }

    func create() throws -> Vault { try scratch.create() }

    func unlock(_ passphrase: String = passphrase) throws -> Vault { try scratch.unlock(passphrase: passphrase) }

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
