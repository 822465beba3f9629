import CofferCrypto
import Foundation
import GRDB

/// Identifier token → subject, remembered across the batches of one ingest, so
/// a returning customer costs a dictionary lookup instead of a B-tree seek.
///
/// A token's subject changes only when subjects merge (its identifiers move to
/// the survivor) or when the subject is erased (its identities are deleted).
/// So, at the first lookup of every transaction, the cache checks:
/// - the erasure epoch (`key_destructions`, which every erasure and retention
///   run increments, in this process or another): changed → forget everything;
/// - `PRAGMA data_version`, which moves when another connection committed: then
///   the merges table's count and last position are compared, and a merge made
///   elsewhere → forget everything;
/// - whether the last transaction that added entries rolled back (entries it
///   added may name links that never committed) → forget everything.
/// Merges made through this graph update the entries they move. Only subjects
/// found in the database are remembered, never a miss.
final class TokenCache {
    /// A 32-byte token as four words: hashed in four steps rather than thirty-two.
    private struct Key: Hashable {
        let a: UInt64, b: UInt64, c: UInt64, d: UInt64

        /// Nil for anything but a 32-byte token (never cached).
        init?(_ token: [UInt8]) {
            guard token.count == HMACSHA256.byteCount else { return nil }
            (a, b, c, d) = token.withUnsafeBytes {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
        }
    }

    private var subjects: [Key: SubjectID] = [:]
    private var dataVersion: Int64?
    private var erasureEpoch: Int64?
    private var mergeState: [Int64]?
    /// Armed by the first lookup of each transaction; reports its rollback.
    private let transaction = RollbackSignal()
    /// Beyond this many entries the cache starts again (≈100 bytes an entry).
    let limit: Int

    init(limit: Int = 500_000) { self.limit = limit }

    /// The remembered subject of `token`, checking first (once per transaction) that entries still hold.
    /// Only inside write transactions (`IdentityGraph.resolve`); outside a transaction the cache is not used (nil).
    func subject(forToken token: [UInt8], in db: Database) throws -> SubjectID? {
        guard db.isInsideTransaction else { return nil }
        if transaction.arm(db) { try revalidate(db) }
        return Key(token).flatMap { subjects[$0] }
    }

    /// Remembers what the database said inside the current transaction.
    func remember(_ token: [UInt8], _ subject: SubjectID, in db: Database) {
        guard db.isInsideTransaction, let key = Key(token) else { return }
        if subjects.count >= limit { subjects.removeAll(keepingCapacity: true) }
        subjects[key] = subject
    }

    /// The tokens of a merged subject now name the survivor.
    func moved(_ tokens: [[UInt8]], to survivor: SubjectID) {
        for key in tokens.compactMap(Key.init) where subjects[key] != nil { subjects[key] = survivor }
    }

    /// How many tokens are remembered (tests).
    var count: Int { subjects.count }

    private func revalidate(_ db: Database) throws {
        if transaction.consume() { subjects.removeAll(keepingCapacity: true) }
        let epoch = try KeyDestructions.count(db)
        if epoch != erasureEpoch {
            subjects.removeAll(keepingCapacity: true)
            erasureEpoch = epoch
        }
        let version = try Int64.fetchOne(db, sql: "PRAGMA data_version")
        guard version != dataVersion else { return }
        dataVersion = version
        let merges = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(seq), 0) FROM merges").map { [$0[0] as Int64, $0[1] as Int64] }
        if merges != mergeState {
            // The first check after this cache's own merges lands here too: forgetting is always safe.
            if mergeState != nil { subjects.removeAll(keepingCapacity: true) }
            mergeState = merges
        }
    }
}
