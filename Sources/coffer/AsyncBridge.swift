import Foundation

/// Runs async work (a server) from a synchronous command: waits for it to end
/// and rethrows its error.
enum AsyncBridge {
    static func wait(_ body: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = Failure()
        Task {
            do { try await body() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }

    private final class Failure: @unchecked Sendable { var error: (any Error)? }
}
