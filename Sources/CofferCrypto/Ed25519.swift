import COpenSSL

/// Ed25519 signatures (RFC 8032, pure Ed25519).
public enum Ed25519 {
    /// Length of a seed (private key), a public key and a signature.
    public static let seedByteCount = 32, publicKeyByteCount = 32, signatureByteCount = 64

    /// A signing key: the 32-byte seed, kept in wiped memory, and its public key.
    public struct PrivateKey: Sendable {
        /// The secret seed.
        public let seed: SecureBytes
        /// The matching public key.
        public let publicKey: PublicKey

        /// A key from a 32-byte seed (RFC 8032 "secret key").
        public init(seed: SecureBytes) throws {
            guard seed.count == seedByteCount else {
                throw CryptoError.invalidLength(what: "Ed25519 seed", expected: seedByteCount, actual: seed.count)
            }
            var pub = [UInt8](repeating: 0, count: publicKeyByteCount)
            let ok = seed.withUnsafeBytes { s in
                pub.withUnsafeMutableBufferPointer { coffer_ed25519_public_from_seed(s.bindMemory(to: UInt8.self).baseAddress, $0.baseAddress) }
            }
            guard ok == 1 else { throw CryptoError.fromOpenSSL("Ed25519 key") }
            self.seed = seed
            self.publicKey = try PublicKey(rawRepresentation: pub)
        }

        /// A fresh random key.
        public static func generate() throws -> PrivateKey {
            try PrivateKey(seed: SecureBytes.random(count: seedByteCount))
        }

        /// The 64-byte signature of `message`.
        public func signature(for message: [UInt8]) throws -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: signatureByteCount)
            let ok = seed.withUnsafeBytes { s in
                message.withUnsafeBufferPointer { m in
                    sig.withUnsafeMutableBufferPointer {
                        coffer_ed25519_sign(s.bindMemory(to: UInt8.self).baseAddress, m.baseAddress, m.count, $0.baseAddress)
                    }
                }
            }
            guard ok == 1 else { throw CryptoError.fromOpenSSL("Ed25519 sign") }
            return sig
        }
    }

    /// A verification key.
    public struct PublicKey: Sendable, Equatable, Codable {
        /// The 32 raw bytes (RFC 8032 encoding).
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == publicKeyByteCount else {
                throw CryptoError.invalidLength(what: "Ed25519 public key", expected: publicKeyByteCount,
                                                actual: rawRepresentation.count)
            }
            self.rawRepresentation = rawRepresentation
        }

        /// `true` when `signature` is a valid signature of `message` by this key.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard signature.count == signatureByteCount else { return false }
            let ok = rawRepresentation.withUnsafeBufferPointer { k in
                message.withUnsafeBufferPointer { m in
                    signature.withUnsafeBufferPointer { s in
                        coffer_ed25519_verify(k.baseAddress, m.baseAddress, m.count, s.baseAddress)
                    }
                }
            }
            ERR_clear_error()
            return ok == 1
        }
    }
}
