public import CofferCrypto

/// The keys an unlocked vault works with, all derived from the master key
/// with HKDF-SHA256 under distinct labels (see SECURITY.md).
public struct VaultKeys: Sendable {
    /// Labels of the derived keys. Changing one breaks every existing vault.
    enum Label {
        static let subjectKeyWrapping = "coffer/v1/subject-key-wrapping"
        static let pseudonymisation = "coffer/v1/pseudonymisation"
        static let checkpointSigning = "coffer/v1/checkpoint-signing"
        static let quarantine = "coffer/v1/quarantine"
        static let dedup = "coffer/v1/dedup"
        static let projection = "coffer/v1/projections"
        static let auditRead = "coffer/v1/audit-read"
        static let auditSigning = "coffer/v1/audit-signing"
        static let requestRegister = "coffer/v1/request-register"
        static let stateSeal = "coffer/v1/state-seal"
        static let collectorKeyWrapping = "coffer/v1/collector-key-wrapping"
    }

    /// Wraps each subject's data key in the keyring.
    public let subjectKeyWrapping: SymmetricKey
    /// Keys the HMAC tokens that stand in for identifiers.
    public let pseudonymisation: SymmetricKey
    /// Signs event-log checkpoints (Ed25519).
    public let checkpointSigning: Ed25519.PrivateKey
    /// Encrypts quarantined input.
    public let quarantine: SymmetricKey
    /// Keys the hashes that recognise re-imported records.
    public let dedup: SymmetricKey

    /// Root of the projection keys (never stored in a keyslot: each role gets its own child).
    let projection: SymmetricKey
    /// Keys the seals of the tables that decide who is in a projection (`StateSeals`).
    public let stateSeal: SymmetricKey
    /// Encrypts the details (outcomes, reasons) of the request register.
    public let requestRegister: SymmetricKey
    /// Encrypts audit entry details.
    public let auditRead: SymmetricKey
    /// Wraps the collector's X25519 private key (the inbox's sealed requests open with it).
    public let collectorKeyWrapping: SymmetricKey
    /// Seed of the audit signing key.
    public let auditSigningSeed: SymmetricKey
    /// Signs audit entries (Ed25519).
    public let auditSigning: Ed25519.PrivateKey

    /// The key of `role`'s projections: HKDF(projection root, role). An analyst's
    /// slot holds the analyst key only, so it cannot open the files built for marketing.
    public func projectionKey(for role: Role) throws -> SymmetricKey {
        try HKDF.deriveKey(from: projection, label: "\(Label.projection)/\(role.rawValue)")
    }

    /// Keys the vault's own projection-build state (owner and compliance only).
    public func projectionState() throws -> SymmetricKey {
        try HKDF.deriveKey(from: projection, label: "\(Label.projection)/build-state")
    }

    /// Derives every key from the vault master key.
    public init(master: SymmetricKey) throws {
        subjectKeyWrapping = try HKDF.deriveKey(from: master, label: Label.subjectKeyWrapping)
        pseudonymisation = try HKDF.deriveKey(from: master, label: Label.pseudonymisation)
        checkpointSigning = try Ed25519.PrivateKey(seed: HKDF.deriveKey(from: master, label: Label.checkpointSigning).bytes)
        quarantine = try HKDF.deriveKey(from: master, label: Label.quarantine)
        dedup = try HKDF.deriveKey(from: master, label: Label.dedup)
        projection = try HKDF.deriveKey(from: master, label: Label.projection)
        auditRead = try HKDF.deriveKey(from: master, label: Label.auditRead)
        requestRegister = try HKDF.deriveKey(from: master, label: Label.requestRegister)
        stateSeal = try HKDF.deriveKey(from: master, label: Label.stateSeal)
        collectorKeyWrapping = try HKDF.deriveKey(from: master, label: Label.collectorKeyWrapping)
        auditSigningSeed = try HKDF.deriveKey(from: master, label: Label.auditSigning)
        auditSigning = try Ed25519.PrivateKey(seed: auditSigningSeed.bytes)
    }
}
