import Foundation
import Synchronization

/// Runs `body` for each index in `0..<count` — on every core when `parallel`,
/// else in order on this thread — and returns each outcome in index order, so
/// the caller decides what a failure means for the others.
package func parallelMap<T: Sendable>(_ count: Int, parallel: Bool = true, _ body: @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    let results = IndexedResults<T>(count: count)
    if parallel {
        DispatchQueue.concurrentPerform(iterations: count) { index in results.store(index, Result { try body(index) }) }
    } else {
        for index in 0..<count { results.store(index, Result { try body(index) }) }
    }
    return results.all
}

/// Outcomes filled in from several threads, one slot each, under a mutex.
private final class IndexedResults<T: Sendable>: Sendable {
    private let results: Mutex<[Result<T, any Error>?]>

    init(count: Int) { results = Mutex(Array(repeating: nil, count: count)) }

    func store(_ index: Int, _ result: Result<T, any Error>) { results.withLock { $0[index] = result } }

    var all: [Result<T, any Error>] { results.withLock { $0.map { $0! } } }
}
