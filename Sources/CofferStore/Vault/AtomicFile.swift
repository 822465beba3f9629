public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Crash-safe file replacement: readers see the old file or the new one, never half of one.
public enum AtomicFile {
    /// Writes `data` to a temporary sibling, fsyncs it, renames it over `url`,
    /// and fsyncs the directory so the rename itself is durable.
    public static func write(_ data: some ContiguousBytes, to url: URL, permissions: mode_t = 0o600) throws {
        let writer = try Writer(to: url, permissions: permissions)
        try data.withUnsafeBytes { try writer.append($0) }
        try writer.commit()
    }

    /// A file replaced as `write` replaces it, written in pieces: for files too large to
    /// hold whole in memory. Nothing is seen at `url` before `commit()`; a writer dropped
    /// without it (an error on the way) removes its temporary sibling.
    public final class Writer {
        private let url: URL
        private let temporary: URL
        /// The temporary file's descriptor; -1 once committed or failed.
        private var descriptor: Int32

        /// Creates the temporary sibling (`.NAME.tmp-PID`, replaced if a killed run left one).
        public init(to url: URL, permissions: mode_t = 0o600) throws {
            self.url = url
            temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
            descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, permissions)
            guard descriptor >= 0 else { throw VaultError.io(path: temporary.path) }
        }

        deinit { abandon() }

        /// Writes `bytes` after what was written so far.
        public func append(_ bytes: UnsafeRawBufferPointer) throws {
            guard descriptor >= 0 else { throw VaultError.io(path: url.path, detail: "the file was already written or failed") }
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0, errno == EINTR { continue }   // a signal interrupted the write: write the rest
                guard n > 0 else { throw failure() }
                offset += n
            }
        }

        /// Writes `bytes` after what was written so far.
        public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

        /// fsyncs the file, renames it over `url` and fsyncs the directory.
        public func commit() throws {
            guard descriptor >= 0 else { throw VaultError.io(path: url.path, detail: "the file was already written or failed") }
            var ok = fsync(descriptor) == 0
            // close can report a write the kernel could not complete (NFS, a full quota).
            ok = close(descriptor) == 0 && ok
            descriptor = -1
            guard ok, rename(temporary.path, url.path) == 0 else {
                let detail = String(cString: strerror(errno))
                unlink(temporary.path)
                throw VaultError.io(path: url.path, detail: detail)
            }
            try syncDirectory(url.deletingLastPathComponent())
        }

        /// The error of a failed write, the temporary file removed.
        private func failure() -> VaultError {
            let detail = String(cString: strerror(errno))
            abandon()
            return VaultError.io(path: url.path, detail: detail)
        }

        /// Closes and removes the temporary file, if it is still open.
        private func abandon() {
            guard descriptor >= 0 else { return }
            close(descriptor)
            descriptor = -1
            unlink(temporary.path)
        }
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
    /// mid-write left in `directory`: they hold whole sealed files, or the first part
    /// of one (projections an erasure has since purged, say), that nothing else would
    /// ever remove.
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
