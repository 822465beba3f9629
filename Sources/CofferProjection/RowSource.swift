/// Where the file writers find each person's single-view row: in one table
/// computed once for every file (rows of `width` cells, read in place by all
/// writing threads), else computed for each file as it is written.
struct RowSource: @unchecked Sendable {
    /// Valid while the build writes files (the builder holds the table meanwhile).
    let table: UnsafeBufferPointer<Cell>?
    let width: Int
    let compute: @Sendable (Int) -> [Cell]

    /// Calls `body` with the row of the person at `position`.
    func withRow<R>(_ position: Int, _ body: (UnsafeBufferPointer<Cell>) throws -> R) rethrows -> R {
        if let table {
            return try body(UnsafeBufferPointer(rebasing: table[(position * width)..<((position + 1) * width)]))
        }
        return try compute(position).withUnsafeBufferPointer(body)
    }
}
