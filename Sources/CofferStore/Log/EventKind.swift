/// What an event in the log records. Stored in clear beside the ciphertext
/// (the kind is not personal data) and bound into the encryption's
/// associated data, so it cannot be changed without detection.
public enum EventKind: String, CaseIterable, Sendable, Codable {
    case identify, track, page, screen, alias, group
    /// Consent given, withdrawn or expired.
    case consent
    /// Two subjects found to be one person.
    case merge
    /// A correction (GDPR Art. 16).
    case rectify
    /// A tombstone left by erasure (GDPR Art. 17); carries no personal data.
    case erase
    /// Processing restricted or the restriction lifted (GDPR Art. 18).
    case restrict
}
