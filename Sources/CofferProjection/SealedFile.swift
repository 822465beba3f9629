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
        let stream = try Stream(to: url, magic: magic, key: key, authenticating: aad)
        try stream.write(plaintext)
        return try stream.commit()
    }

    /// A sealed file written in pieces, encrypted and written out as they come: neither the
    /// plaintext nor the ciphertext is ever whole in memory (a projection's image, the build
    /// state: each ~100 MB for 100,000 people). The file is the one `write` makes of the
    /// pieces joined, and appears at `commit()`, atomically; dropped before, it leaves nothing.
    final class Stream {
        private let file: AtomicFile.Writer
        private let cipher: AESGCMContext
        /// Bytes written to the file so far.
        private var size = 0
        /// Plaintext is encrypted and written this many bytes at a time.
        static let piece = 1 << 20

        init(to url: URL, magic: [UInt8], key: SymmetricKey, authenticating aad: [UInt8]) throws {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let nonce = try SecureRandom.bytes(AESGCM.nonceByteCount)
            cipher = try AESGCMContext()
            try cipher.startSealing(key: key, nonce: nonce, authenticating: aad)
            file = try AtomicFile.Writer(to: url)
            try append(magic + nonce)
        }

        /// Encrypts and writes the next part of the plaintext.
        func write(_ plaintext: UnsafeRawBufferPointer) throws {
            var start = 0
            while start < plaintext.count {
                let end = min(start + Self.piece, plaintext.count)
                try append(try cipher.sealPiece(UnsafeRawBufferPointer(rebasing: plaintext[start..<end])))
                start = end
            }
        }

        /// Writes the tag and puts the file in place; returns its size.
        func commit() throws -> Int {
            try append(try cipher.finishSealing())
            try file.commit()
            return size
        }

        private func append(_ bytes: [UInt8]) throws {
            try file.append(bytes)
            size += bytes.count
        }
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
