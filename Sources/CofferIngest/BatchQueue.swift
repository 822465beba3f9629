import Foundation
import GRDB

/// One batch of parsed records on its way from the reading thread to the writer.
struct ParsedBatch {
    var parsed: [Ingestor.Parsed]
    /// Input bytes read when the batch was cut (for progress).
    var bytesRead: Int
    /// Where the records came from, with the CSV header they were parsed with.
    var source: Ingestor.RecordSource
    /// What runs last in the batch's transaction, and the producer's mark for it (the inbox drain's cursor).
    var lastly: (@Sendable (Database) throws -> Void)?
    var mark: Int64 = 0
}

/// A bounded hand-over between the thread that reads and parses a file and
/// the one that writes it (or, in the inbox drain, the thread that opens
/// requests and the one that parses them): `put` waits while `capacity`
/// batches are waiting, `take` waits for the next batch. Either side can stop
/// the other: the reader by finishing (with an error when the input failed),
/// the writer by cancelling.
final class BatchQueue<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var waiting: [Batch] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var totalBytesRead = 0
    private var strayBytes = UnattributedBytes()

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Runs `produce` on a thread of its own, putting batches into a new queue of
    /// `capacity`, and `consume` on this one, taking them. Once `consume` returns
    /// or throws, the queue is cancelled and the producer waited for. An error
    /// `produce` throws reaches `consume` from `take`, after the batches before it.
    static func pipeline<Result>(capacity: Int, produce: @escaping @Sendable (BatchQueue<Batch>) throws -> Void,
                                 consume: (BatchQueue<Batch>) throws -> Result) throws -> Result {
        let queue = BatchQueue<Batch>(capacity: capacity)
        let producing = DispatchGroup()
        DispatchQueue.global(qos: .userInitiated).async(group: producing) {
            do {
                try produce(queue)
                queue.finish()
            } catch {
                queue.finish(throwing: error)
            }
        }
        defer {
            queue.cancel()
            producing.wait()
        }
        return try consume(queue)
    }

    /// Hands a batch over; `false` when the writer has cancelled (stop reading).
    func put(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while waiting.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        waiting.append(batch)
        condition.broadcast()
        return true
    }

    /// The producer is done (if it did not say so already, with its totals).
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The reader is done: every batch has been put.
    func finish(bytesRead: Int, unattributed: UnattributedBytes = UnattributedBytes()) {
        condition.lock()
        totalBytesRead = bytesRead
        strayBytes = unattributed
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The reader failed: `take` rethrows `error` once the batches before it are taken.
    func finish(throwing error: any Error) {
        condition.lock()
        if !(error is CancellationError) { failure = error }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch; nil when the reader has finished and nothing is left.
    /// - Throws: the reader's error, after the batches read before it.
    func take() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && !finished { condition.wait() }
        if !waiting.isEmpty {
            let batch = waiting.removeFirst()
            condition.broadcast()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// Bytes the reader read in all, once it has finished.
    var bytesRead: Int {
        condition.lock()
        defer { condition.unlock() }
        return totalBytesRead
    }

    /// Bytes of the input that belong to no record, once the reader has finished.
    var unattributed: UnattributedBytes {
        condition.lock()
        defer { condition.unlock() }
        return strayBytes
    }

    /// The writer stops: a waiting or later `put` returns `false`.
    func cancel() {
        condition.lock()
        cancelled = true
        waiting.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
