import CofferCrypto
import CofferStore
import Foundation

/// A file sealed with AES-256-GCM: `magic ‖ 12-byte nonce ‖ ciphertext ‖ tag`,
/// replaced atomically. Projection files and the build state are kept this way.
enum SealedFile {
    /// Why a sealed file could not be read.
    enum ReadError: Error {
        case missing
        /// Too short, or another magic: not this kind of file.
        case notSealed
        /// The tag does not verify: tampered, or another key or associated data.
        case authenticationFailed
    }

    /// Seals `plaintext` where it lies (no copy of it is made) under a fresh
    /// nonce and writes the file atomically; returns the file's size.
    static func write(_ plaintext: UnsafeRawBufferPointer, magic: [UInt8], key: SymmetricKey, authenticating aad: [UInt8],
                      to url: URL) throws -> Int {
        let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
        let file = try AESGCMContext().seal(plaintext, key: key, nonce: nonce, authenticating: aad, prefix: magic + nonce)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(file, to: url)
        return file.count
    }

    /// The plaintext of the file (the caller wipes it when done).
    static func read(_ url: URL, magic: [UInt8], key: SymmetricKey, authenticating aad: [UInt8]) throws(ReadError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw .missing }
        let header = magic.count + AESGCM.nonceByteCount
        guard data.count > header, data.prefix(magic.count).elementsEqual(magic) else { throw .notSealed }
        do {
            // Opened where it lies: the build state runs to 100 MB for 100,000 people, and two copies
            // of it (the file's bytes, then its ciphertext) came before the plaintext.
            return try data.withUnsafeBytes { file in
                try aad.withUnsafeBytes { aad in
                    try AESGCMContext().open(UnsafeRawBufferPointer(rebasing: file[header...]), key: key,
                                             nonce: UnsafeRawBufferPointer(rebasing: file[magic.count..<header]), authenticating: aad)
                }
            }
        } catch {
            throw .authenticationFailed
        }
    }
}
