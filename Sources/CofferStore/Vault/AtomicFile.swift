public import Foundation
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
        guard fd >= 0 else { throw VaultError.io(path: temporary.path) }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }   // a signal interrupted the write: write the rest
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        // close can report a write the kernel could not complete (NFS, a full quota).
        ok = close(fd) == 0 && ok
        guard ok, rename(temporary.path, url.path) == 0 else {
            let detail = String(cString: strerror(errno))
            unlink(temporary.path)
            throw VaultError.io(path: url.path, detail: detail)
        }
        try syncDirectory(url.deletingLastPathComponent())
    }

    /// fsyncs a directory so renames and creations inside it survive a crash.
    /// A file system that cannot sync directories (EINVAL) is left as it is.
    static func syncDirectory(_ directory: URL) throws {
        let dfd = open(directory.path, O_RDONLY)
        guard dfd >= 0 else { throw VaultError.io(path: directory.path) }
        let synced = fsync(dfd) == 0 || errno == EINVAL
        let detail = String(cString: strerror(errno))
        let closed = close(dfd) == 0
        guard synced, closed else {
            throw VaultError.io(path: directory.path, detail: "the directory could not be synced to disk: \(detail)")
        }
    }
}

extension AtomicFile {
    /// Removes the temporary siblings (`.NAME.tmp-PID`) that a writer killed
    /// mid-write left in `directory`: they hold whole sealed files (projections
    /// an erasure has since purged, say) that nothing else would ever remove.
    /// Files of a process still running are left alone.
    /// - Returns: the names removed.
    @discardableResult
    public static func removeLeftovers(in directory: URL) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards),
                  let pid = pid_t(name[marker.upperBound...]) else { continue }
            if pid != getpid(), kill(pid, 0) == 0 { continue }  // a live writer's file
            if unlink(directory.appendingPathComponent(name).path) == 0 { removed.append(name) }
        }
        return removed
    }
}
