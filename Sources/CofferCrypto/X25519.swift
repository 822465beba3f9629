import COpenSSL

/// X25519 key agreement (RFC 7748).
public enum X25519 {
    /// Length of a private key, a public key and a shared secret.
    public static let keyByteCount = 32

    /// A private key, kept in wiped memory, and its public key.
    public struct PrivateKey: Sendable {
        /// The 32 secret bytes.
        public let rawRepresentation: SecureBytes
        public let publicKey: PublicKey

        /// A key from its 32 raw bytes (RFC 7748 clamps them when used).
        public init(rawRepresentation: SecureBytes) throws {
            guard rawRepresentation.count == keyByteCount else {
                throw CryptoError.invalidLength(what: "X25519 private key", expected: keyByteCount, actual: rawRepresentation.count)
            }
            var pub = [UInt8](repeating: 0, count: keyByteCount)
            let ok = rawRepresentation.withUnsafeBytes { raw in
                pub.withUnsafeMutableBufferPointer { coffer_x25519_public(raw.bindMemory(to: UInt8.self).baseAddress, $0.baseAddress) }
            }
            guard ok == 1 else { throw CryptoError.fromOpenSSL("X25519 key") }
            self.rawRepresentation = rawRepresentation
            publicKey = try PublicKey(rawRepresentation: pub)
        }

        /// A fresh random key.
        public static func generate() throws -> PrivateKey {
            try PrivateKey(rawRepresentation: SecureBytes.random(count: keyByteCount))
        }

        /// The shared secret with `peer`.
        /// - Throws: when `peer` is a low-order point (the secret would be all zeros).
        public func sharedSecret(with peer: PublicKey) throws -> SecureBytes {
            try SecureBytes(count: keyByteCount) { out in
                let ok = rawRepresentation.withUnsafeBytes { raw in
                    peer.rawRepresentation.withUnsafeBufferPointer { pub in
                        coffer_x25519_derive(raw.bindMemory(to: UInt8.self).baseAddress, pub.baseAddress,
                                             out.bindMemory(to: UInt8.self).baseAddress)
                    }
                }
                guard ok == 1 else {
                    ERR_clear_error()
                    throw CryptoError.invalidParameter("X25519 agreement failed (a low-order or invalid public key)")
                }
            }
        }
    }

    /// A public key: 32 bytes (the u-coordinate).
    public struct PublicKey: Sendable, Equatable {
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == keyByteCount else {
                throw CryptoError.invalidLength(what: "X25519 public key", expected: keyByteCount, actual: rawRepresentation.count)
            }
            self.rawRepresentation = rawRepresentation
        }
    }
}
