import CofferCrypto

/// The keyed hashes an incoming event needs before it is written: its dedup
/// key and its identifiers' tokens. They depend only on the event and the
/// vault's keys, so an ingest works them out on its parsing thread, beside the
/// thread that writes (which then only looks them up).
///
/// Holds its own copies of the dedup and pseudonymisation HMAC contexts
/// (duplicated inside OpenSSL), so the thread that owns it shares nothing with
/// the writer: one hasher per thread.
package final class EventHasher {
    private let dedup: HMACSHA256
    private let pseudonymisation: HMACSHA256

    /// Hashes exactly as `dedupIndex` keys records and `identities` tokenises identifiers.
    package init(dedupIndex: DedupIndex, identities: IdentityGraph) throws {
        dedup = try dedupIndex.hmac.duplicate()
        pseudonymisation = try identities.hmac.duplicate()
    }

    /// The record's dedup key, as `DedupIndex.key(messageID:content:occurredAt:)` gives it.
    package func dedupKey(messageID: String?, content: [UInt8], occurredAt: Int64?) throws -> DedupKey {
        try DedupIndex.key(messageID: messageID, content: content, occurredAt: occurredAt, using: dedup)
    }

    /// The identifier's token, as `IdentityGraph.token(_:)` gives it.
    package func token(_ identifier: Identifier) throws -> [UInt8] {
        try IdentityGraph.token(identifier, using: pseudonymisation)
    }
}
