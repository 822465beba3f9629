import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file in fixed-size chunks so memory does not grow with file size.
final class ChunkedFileReader {
    private let fd: Int32
    private var buffer: [UInt8]
    private(set) var bytesRead = 0

    /// Opens `path` for reading.
    init(path: String, chunkSize: Int = 1 << 20) throws {
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw IngestError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw IngestError.unreadable(path: path, reason: "it is a directory")
        }
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    deinit { close(fd) }

    /// The next chunk, or nil at the end of the file.
    func next() throws -> ArraySlice<UInt8>? {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw IngestError.unreadable(path: "input", reason: String(cString: strerror(errno))) }
        if n == 0 { return nil }
        bytesRead += n
        return buffer[0..<n]
    }
}
