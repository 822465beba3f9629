/// What an actor does with a vault. A role decides which keys the actor's
/// keyslot wraps, so permissions are cryptographic, not only a flag.
public enum Role: String, Codable, CaseIterable, Sendable {
    /// Creates the vault, ingests, manages actors. Holds the master key.
    case owner
    /// Runs data-subject requests. Holds the master key.
    case compliance
    /// Queries consented, pseudonymised projections. Holds projection keys only.
    case analyst
    /// Exports activation audiences. Holds projection keys only.
    case marketing
    /// Reads and verifies the audit trail and the log chain. Holds no data key.
    case auditor
}
