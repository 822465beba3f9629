import CofferCrypto
import CofferFormats
package import CofferStore
package import Foundation

/// Beside each projection file, whose row each `customer_id` is: the subject
/// id, in `projections/PURPOSE.ROLE.subjects.enc`, sealed under the vault's
/// build-state key (the owner's alone: no role's keyslot holds it, so an
/// analyst's file links to nobody). `coffer publish` reads it to know whom a
/// remote copy holds, so that an erasure, a restriction or a withdrawal can
/// queue the deletes that copy is owed.
///
/// Written by every build; people purged from the file (erasure, restriction)
/// are taken out of it at once, so it never names someone the file no longer
/// holds.
package enum SubjectMap {
    static let magic = Array("CSM1".utf8)

    /// The map beside the projection file at `file` (`PURPOSE.ROLE.enc`).
    package static func url(besides file: URL) -> URL {
        file.deletingPathExtension().appendingPathExtension("subjects.enc")
    }

    private static func associatedData(vaultID: [UInt8], purpose: String, role: Role) -> [UInt8] {
        Array("coffer/v1/subject-map|\(vaultID.hexString)|\(purpose)|\(role.rawValue)".utf8)
    }

    static func write(ids: [String], subjects: [SubjectID], besides file: URL, key: SymmetricKey, vaultID: [UInt8],
                      purpose: String, role: Role) throws {
        var writer = StateWriter()
        writer.int(Int64(ids.count))
        for (id, subject) in zip(ids, subjects) {
            writer.string(id)
            writer.raw(subject.bytes)
        }
        defer { writer.data.wipe() }
        _ = try writer.data.withUnsafeBytes {
            try SealedFile.write($0, magic: magic, key: key, authenticating: associatedData(vaultID: vaultID, purpose: purpose, role: role),
                                 to: url(besides: file))
        }
    }

    /// `customer_id` → subject id for the file of `purpose` for `role`; nil when there is no usable map
    /// (never built, or deleted by a purge run by an actor who could not re-seal it).
    package static func read(purpose: String, role: Role, vault: Vault) throws -> [String: SubjectID]? {
        let file = ProjectionFile.url(vault.layout, purpose: purpose, role: role)
        guard var plain = try? SealedFile.read(url(besides: file), magic: magic, key: vault.keys().projectionState(),
                                               authenticating: associatedData(vaultID: vault.vaultID, purpose: purpose, role: role))
        else { return nil }
        defer { plain.wipe() }
        var reader = StateReader(bytes: plain)
        guard let count = try? reader.int(), count >= 0 else { return nil }
        var map: [String: SubjectID] = [:]
        map.reserveCapacity(Int(min(count, 10_000_000)))
        for _ in 0..<count {
            guard let id = try? reader.string(), let subject = try? reader.subject() else { return nil }
            map[id] = subject
        }
        return map
    }

    /// Takes `ids` out of the map of the file of `purpose` for `role` (they were purged from the file);
    /// deletes the map when this actor cannot re-seal it.
    static func remove(_ ids: [String], purpose: String, role: Role, vault: Vault) throws {
        let file = ProjectionFile.url(vault.layout, purpose: purpose, role: role)
        guard let key = try? vault.keys().projectionState(), var map = try read(purpose: purpose, role: role, vault: vault) else {
            return try remove(besides: file)
        }
        for id in ids { map[id] = nil }
        let entries = map.sorted { $0.key < $1.key }
        try write(ids: entries.map(\.key), subjects: entries.map(\.value), besides: file, key: key, vaultID: vault.vaultID,
                  purpose: purpose, role: role)
    }

    /// Deletes the map beside `file`.
    static func remove(besides file: URL) throws {
        let map = url(besides: file)
        guard FileManager.default.fileExists(atPath: map.path) else { return }
        do {
            try FileManager.default.removeItem(at: map)
        } catch {
            throw VaultError.io(path: map.path, detail: error.localizedDescription)
        }
    }
}
