/// Why one input record is refused (ingest quarantines it with this reason).
/// Reasons never quote input values.
package struct Rejection: Error, Equatable, Sendable {
    package var reason: String

    package init(_ reason: String) {
        self.reason = reason
    }
}
