import CofferCrypto
import Foundation

/// Subject keys unwrapped during one read of the log, shared by the threads
/// that read it together: each key is looked up and unwrapped once, not once
/// per thread (a keyring lookup and an unwrap cost as much as decrypting
/// several events). Keep it for one read only: it holds unwrapped keys, and
/// an erasure after the read must not find them here.
public final class SubjectKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    /// nil values: the key was shredded.
    private var keys: [KeySlot: SymmetricKey?] = [:]

    public init() {}

    /// The cached key of `subject` at `version`, else what `load` gives (cached for the other threads).
    func key(_ subject: SubjectID, version: UInt32, orLoad load: () throws -> SymmetricKey?) rethrows -> SymmetricKey? {
        let slot = KeySlot(subject: subject, version: version)
        if let known = lock.withLock({ keys[slot] }) { return known }
        let key = try load()
        lock.withLock { keys[slot] = .some(key) }
        return key
    }
}

/// One subject key: whose, and which version (`KeyEpoch`).
struct KeySlot: Hashable {
    var subject: SubjectID
    var version: UInt32
}
