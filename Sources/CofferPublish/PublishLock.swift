package import CofferStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Held (an exclusive `flock` on `vault/publish.lock`, an empty file) while a
/// publish sends rows. A delete sent meanwhile could be overtaken by rows still
/// on their way and be taken for verified; so `publish sync` leaves a copy's
/// deletes for the running publish's own sync. The kernel releases the lock
/// when the publishing process ends, however it ends: a killed publish blocks
/// nothing.
package final class PublishLock {
    private let descriptor: Int32

    static func url(_ layout: VaultLayout) -> URL { layout.directory.appendingPathComponent("publish.lock") }

    /// Takes the lock, waiting for another publish of the vault to finish.
    package init(_ layout: VaultLayout) throws {
        let path = Self.url(layout).path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw VaultError.io(path: path, detail: String(cString: strerror(errno)), errno: errno) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(descriptor)
                throw VaultError.io(path: path, detail: "cannot lock: \(String(cString: strerror(code)))", errno: code)
            }
        }
    }

    deinit { close(descriptor) }   // closing releases the lock

    /// Whether a publish holds the lock now (some process, this one included through another descriptor).
    package static func isHeld(_ layout: VaultLayout) -> Bool {
        let descriptor = open(url(layout).path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}
