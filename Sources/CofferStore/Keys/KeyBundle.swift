public import CofferCrypto
import CofferFormats

/// A set of named 256-bit keys, serialised for wrapping inside a keyslot.
///
/// Encoding: repeated `u16 name length ‖ name ‖ 32 key bytes`, names sorted.
public struct KeyBundle: Sendable {
    /// Well-known key names.
    public enum Name {
        /// The vault master key, from which every data key is derived.
        public static let master = "master"
        /// Decrypts the projections built for the slot's role (analysts, marketing).
        public static let projection = "projection"
        /// Encrypts and decrypts audit entry details.
        public static let auditRead = "audit-read"
        /// Seed of the Ed25519 key that signs audit entries.
        public static let auditSigning = "audit-signing"
        /// The audit ledger's Ed25519 public key, pinned in the auditor's slot.
        public static let auditPublic = "audit-public"
    }

    /// The names of the keys `role`'s slot holds, sorted: owner and compliance
    /// the master key; analysts and marketing their role's projection key and
    /// what writing audit entries takes; auditors the audit read key and the
    /// audit public key. No role but owner and compliance can derive a data key.
    public static func names(for role: Role) -> [String] {
        switch role {
        case .owner, .compliance: return [Name.master]
        case .analyst, .marketing: return [Name.auditRead, Name.auditSigning, Name.projection]
        case .auditor: return [Name.auditPublic, Name.auditRead]
        }
    }

    /// Exactly the keys `names(for: role)` lists, derived from the master key (see SECURITY.md).
    public static func forRole(_ role: Role, master: SymmetricKey) throws -> KeyBundle {
        let derived = try VaultKeys(master: master)
        var keys: [String: SymmetricKey] = [:]
        for name in names(for: role) {
            switch name {
            case Name.master: keys[name] = master
            case Name.projection: keys[name] = try derived.projectionKey(for: role)
            case Name.auditRead: keys[name] = derived.auditRead
            case Name.auditSigning: keys[name] = derived.auditSigningSeed
            case Name.auditPublic: keys[name] = try SymmetricKey(copying: derived.auditSigning.publicKey.rawRepresentation)
            default: preconditionFailure("no derivation for key '\(name)'")
            }
        }
        return KeyBundle(keys: keys)
    }

    /// The names of the keys held, sorted (never the keys themselves).
    public var names: [String] { keys.keys.sorted() }

    /// The keys by name.
    public private(set) var keys: [String: SymmetricKey]

    public init(keys: [String: SymmetricKey] = [:]) {
        self.keys = keys
    }

    /// The key named `name`, if the bundle holds it.
    public subscript(name: String) -> SymmetricKey? { keys[name] }

    /// Serialises into wiped-on-release memory.
    func serialised() -> SecureBytes {
        var out = [UInt8]()
        for name in keys.keys.sorted() {
            let nameBytes = Array(name.utf8)
            out.appendBigEndian(UInt16(nameBytes.count))
            out.append(contentsOf: nameBytes)
            keys[name]!.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        defer { out.wipe() }
        return SecureBytes(out)
    }

    /// Parses what `serialised()` wrote.
    init(serialised: SecureBytes) throws {
        var keys: [String: SymmetricKey] = [:]
        try serialised.withUnsafeBytes { raw in
            var i = 0
            while i < raw.count {
                guard i + 2 <= raw.count else { throw CryptoError.invalidParameter("truncated key bundle") }
                let length = Int(raw[i]) << 8 | Int(raw[i + 1])
                i += 2
                guard i + length + SymmetricKey.byteCount <= raw.count else {
                    throw CryptoError.invalidParameter("truncated key bundle")
                }
                let name = String(decoding: raw[i..<(i + length)], as: UTF8.self)
                i += length
                keys[name] = try SymmetricKey(copying: raw[i..<(i + SymmetricKey.byteCount)])
                i += SymmetricKey.byteCount
            }
        }
        self.keys = keys
    }
}
