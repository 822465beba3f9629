import COpenSSL

/// Secret bytes in memory that is wiped (`OPENSSL_cleanse`) when released.
///
/// Contents never change after initialisation, which is what makes sharing an
/// instance across tasks safe. Use for keys and other secrets; never log or
/// print it (its `description` is redacted).
public final class SecureBytes: @unchecked Sendable, CustomStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// Number of bytes held.
    public var count: Int { countValue }

    /// Allocates `count` bytes and lets `initializer` fill them.
    public init(count: Int, initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        storage = .allocate(byteCount: max(count, 1), alignment: 16)
        let view = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
        view.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initializer(view)
        } catch {
            OPENSSL_cleanse(storage.baseAddress, storage.count)
            storage.deallocate()
            throw error
        }
        self.countValue = count
    }

    private let countValue: Int

    /// Copies `bytes` into wiped-on-release memory.
    public convenience init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        self.init(count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    /// `count` bytes from the system's CSPRNG.
    public static func random(count: Int) throws -> SecureBytes {
        try SecureBytes(count: count) { buffer in
            try SecureRandom.fill(buffer)
        }
    }

    /// Calls `body` with the secret bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<countValue]))
    }

    /// A plain copy of the bytes. Only for wrapping or handing to an API that
    /// needs an array; the copy is not wiped.
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Compares with `other` in constant time (for equal lengths).
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in ConstantTime.equals(a, b) } }
    }

    public var description: String { "SecureBytes(\(countValue) bytes, redacted)" }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }
}
