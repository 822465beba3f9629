/// Where the file writers find each person's single-view row: computed as a
/// file needs it (from the person's aggregate and analysis), on the writing thread.
struct RowSource: Sendable {
    let compute: @Sendable (Int) -> [Cell]

    /// Calls `body` with the row of the person at `position`.
    func withRow<R>(_ position: Int, _ body: (UnsafeBufferPointer<Cell>) throws -> R) rethrows -> R {
        try compute(position).withUnsafeBufferPointer(body)
    }
}
