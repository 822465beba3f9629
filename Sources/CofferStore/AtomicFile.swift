import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Crash-safe file replacement: readers see the old file or the new one, never half of one.
public enum AtomicFile {
    /// Writes `data` to a temporary sibling, fsyncs it, renames it over `url`,
    /// and fsyncs the directory so the rename itself is durable.
    public static func write(_ data: some ContiguousBytes, to url: URL, permissions: mode_t = 0o600) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, permissions)
        guard fd >= 0 else { throw VaultError.io(path: temporary.path, detail: String(cString: strerror(errno))) }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary.path, url.path) == 0 else {
            let detail = String(cString: strerror(errno))
            unlink(temporary.path)
            throw VaultError.io(path: url.path, detail: detail)
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    /// fsyncs a directory so renames and creations inside it survive a crash.
    static func syncDirectory(_ directory: URL) {
        let dfd = open(directory.path, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
