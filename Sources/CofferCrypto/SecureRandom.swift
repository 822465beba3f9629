import COpenSSL

/// The system CSPRNG (OpenSSL `RAND_bytes`).
public enum SecureRandom {
    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        guard RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            throw CryptoError.fromOpenSSL("RAND_bytes")
        }
    }

    /// `count` random bytes.
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try fill($0) }
        return out
    }
}

/// Random bytes drawn from the CSPRNG in bulk and handed out in small pieces.
///
/// `RAND_bytes` costs more per call than an AES-GCM seal of a small event, so
/// nonces and ids on hot paths come from here. Not thread-safe: one per task.
public final class RandomPool {
    private var buffer: [UInt8]
    private var position: Int

    /// A pool that refills `capacity` bytes at a time.
    public init(capacity: Int = 8192) {
        buffer = [UInt8](repeating: 0, count: capacity)
        position = capacity
    }

    /// The next `count` random bytes (`count` must not exceed the capacity).
    public func next(_ count: Int) throws -> ArraySlice<UInt8> {
        precondition(count <= buffer.count, "RandomPool: request larger than capacity")
        if position + count > buffer.count {
            try buffer.withUnsafeMutableBytes { try SecureRandom.fill($0) }
            position = 0
        }
        defer { position += count }
        return buffer[position..<(position + count)]
    }

    deinit {
        buffer.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }
}
