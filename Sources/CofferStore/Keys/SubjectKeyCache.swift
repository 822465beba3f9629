import CofferCrypto
import Foundation
import Synchronization

/// Subject keys unwrapped during one read of the log, shared by the threads
/// that read it together: each key is looked up and unwrapped once, not once
/// per thread (a keyring lookup and an unwrap cost as much as decrypting
/// several events). Keep it for one read only: it holds unwrapped keys, and
/// an erasure after the read must not find them here.
package final class SubjectKeyCache: Sendable {
    /// nil values: the key was shredded.
    private let keys = Mutex([KeySlot: SymmetricKey?]())

    package init() {}

    /// The cached key of `subject` at `version`, else what `load` gives (cached for the other threads).
    func key(_ subject: SubjectID, version: UInt32, orLoad load: () throws -> SymmetricKey?) rethrows -> SymmetricKey? {
        let slot = KeySlot(subject: subject, version: version)
        if let known = keys.withLock({ $0[slot] }) { return known }
        let key = try load()
        keys.withLock { $0[slot] = .some(key) }
        return key
    }
}

/// One subject key: whose, and which version (`KeyEpoch`).
struct KeySlot: Hashable {
    var subject: SubjectID
    var version: UInt32
}
