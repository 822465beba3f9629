import COpenSSL

/// The scrypt password-based key derivation function (RFC 7914).
public enum Scrypt {
    /// Cost parameters. Memory used is about `128 · r · N` bytes.
    public struct Parameters: Codable, Equatable, Sendable {
        /// log2 of the CPU/memory cost N.
        public var logN: Int
        /// Block size r.
        public var r: Int
        /// Parallelisation p.
        public var p: Int

        public init(logN: Int, r: Int, p: Int) {
            self.logN = logN
            self.r = r
            self.p = p
        }

        /// Coffer's default for passphrase keyslots: N = 2^17, r = 8, p = 1
        /// (128 MiB, a few hundred ms on one core; OWASP's recommendation).
        public static let passphraseDefault = Parameters(logN: 17, r: 8, p: 1)

        /// Bytes of memory the derivation needs.
        public var memoryBytes: UInt64 { 128 * UInt64(r) * (UInt64(1) << UInt64(logN)) }
    }

    /// Derives `length` bytes from `password` and `salt`.
    public static func deriveBytes(password: UnsafeRawBufferPointer, salt: [UInt8], parameters: Parameters,
                                   length: Int) throws -> SecureBytes {
        guard (1...30).contains(parameters.logN), parameters.r >= 1, parameters.p >= 1,
              parameters.r * parameters.p < 1 << 30 else {
            throw CryptoError.invalidParameter("scrypt logN=\(parameters.logN) r=\(parameters.r) p=\(parameters.p)")
        }
        let maxMemory = parameters.memoryBytes + 128 * UInt64(parameters.r) * UInt64(parameters.p) + 16 << 20
        return try SecureBytes(count: length) { out in
            let ok = salt.withUnsafeBufferPointer { saltPtr in
                EVP_PBE_scrypt(password.baseAddress?.assumingMemoryBound(to: CChar.self), password.count,
                               saltPtr.baseAddress, saltPtr.count,
                               UInt64(1) << UInt64(parameters.logN), UInt64(parameters.r), UInt64(parameters.p),
                               maxMemory, out.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
            }
            guard ok == 1 else { throw CryptoError.fromOpenSSL("scrypt") }
        }
    }

    /// Derives a 256-bit key from a passphrase.
    public static func deriveKey(passphrase: SecureBytes, salt: [UInt8], parameters: Parameters) throws -> SymmetricKey {
        try passphrase.withUnsafeBytes { pw in
            try SymmetricKey(deriveBytes(password: pw, salt: salt, parameters: parameters, length: SymmetricKey.byteCount))
        }
    }
}
