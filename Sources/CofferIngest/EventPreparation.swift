import CofferPolicy
import CofferStore

/// The work an ingest's parsing thread does for each event ahead of the
/// writer: its dedup key and its identifiers' tokens (keyed hashes, from an
/// `EventHasher` of its own) and the fields the policy leaves unclassified.
/// The writer, the slower half of the pipeline, then only looks them up.
///
/// Not thread-safe: made on the writer's thread, then handed to one parsing
/// thread and used there only (hence `@unchecked Sendable`).
final class EventPreparation: @unchecked Sendable {
    private let hasher: EventHasher
    private var classification: FieldClassification

    init(hasher: EventHasher, policy: Policy?) {
        self.hasher = hasher
        classification = FieldClassification(policy: policy)
    }

    /// Fills in `event.prepared`; leaves it nil (the writer works it out) should a hash fail.
    func prepare(_ event: inout SegmentEvent) {
        guard let key = try? hasher.dedupKey(messageID: event.messageID, content: event.dedupContent, occurredAt: event.dedupTime),
              let tokens = try? event.identifiers.map({ try hasher.token($0) }) else { return }
        event.prepared = SegmentEvent.Prepared(dedupKey: key, tokens: tokens,
                                               unclassified: classification.unclassified(event.fieldNames))
    }
}

/// Which event fields a policy classifies, remembered by name (names repeat across events).
struct FieldClassification {
    let policy: Policy?
    private var known: [String: Bool] = [:]

    init(policy: Policy?) {
        self.policy = policy
    }

    /// The names among `names` the policy does not classify, as the ingest report counts
    /// them: a name of letters, digits and `_-.` as it is, any other as one placeholder.
    /// None without a policy.
    mutating func unclassified(_ names: [String]) -> [String] {
        guard let policy else { return [] }
        var out: [String] = []
        for name in names {
            let classified: Bool
            if let cached = known[name] {
                classified = cached
            } else {
                classified = !policy.classes(ofEventField: name).isEmpty
                if known.count < 10_000 { known[name] = classified }
            }
            guard !classified else { continue }
            let plain = name.utf8.count <= 64 && name.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)
            }
            out.append(plain ? name : "(field with an unusual name)")
        }
        return out
    }
}
