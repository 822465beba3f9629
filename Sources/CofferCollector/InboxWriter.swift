import CofferStore
import Foundation
import Synchronization

/// Appends sealed requests to the inbox with group commit: requests that
/// arrive while a commit is on its way to disk share the next one, so each
/// waits for at most one fsync and concurrent clients do not queue on them.
final class InboxWriter: Sendable {
    private struct Pending {
        var rows: [(id: [UInt8], receivedAt: Int64, sealed: [UInt8])] = []
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var stopped = false
    }

    private let inbox: Inbox
    private let pending = Mutex(Pending())
    private let wake = DispatchSemaphore(value: 0)

    init(inbox: Inbox) {
        self.inbox = inbox
        let thread = Thread { [self] in self.run() }
        thread.name = "coffer-inbox-writer"
        thread.start()
    }

    /// Returns once the request is on disk; throws when it could not be written.
    func append(id: [UInt8], receivedAt: Int64, sealed: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let accepted = pending.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.rows.append((id, receivedAt, sealed))
                state.waiters.append(continuation)
                return true
            }
            if accepted { wake.signal() } else { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Commits what is pending, then stops: no request is left unanswered.
    func stop() {
        pending.withLock { $0.stopped = true }
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            let (rows, waiters, stopped) = pending.withLock { state in
                defer { state.rows = []; state.waiters = [] }
                return (state.rows, state.waiters, state.stopped)
            }
            if !rows.isEmpty {
                do {
                    try inbox.append(rows)
                    for waiter in waiters { waiter.resume() }
                } catch {
                    for waiter in waiters { waiter.resume(throwing: error) }
                }
            }
            if stopped, pending.withLock({ $0.rows.isEmpty }) { return }
        }
    }
}
