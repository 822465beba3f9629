import CofferFormats
/// The range a numeric field must fall in to be accepted at ingest. A value
/// outside it (age 1e20, a revenue of 1e300) is quarantined with a reason, so
/// no stored number can overflow what a build or an export computes from it.
package struct NumericLimit: Sendable, Equatable {
    /// Where the field is: `traits.age`, `properties.revenue`. A `traits.` path
    /// also covers `context.traits.` (where non-identify events carry traits).
    package let field: String
    /// The accepted values, inclusive.
    package let range: ClosedRange<Double>
    /// The paths this limit checks, as keys from the top of an event (split once:
    /// every ingested event is checked against every limit).
    package let paths: [[String]]

    package init(field: String, range: ClosedRange<Double>) {
        self.field = field
        self.range = range
        let path = field.split(separator: ".").map(String.init)
        paths = path.first == "traits" ? [path, ["context"] + path] : [path]
    }

    /// The limits that hold unless a policy's `limits:` says otherwise: every
    /// number the single view reads, with room for any real customer.
    package static let defaults: [NumericLimit] = [
        NumericLimit(field: "traits.age", range: 0...150),
        NumericLimit(field: "traits.loyaltyPoints", range: 0...1_000_000_000),
        NumericLimit(field: "traits.loyalty_points", range: 0...1_000_000_000),
    ] + ["revenue", "spending", "total", "amount", "price", "value"].map {
        NumericLimit(field: "properties.\($0)", range: -1_000_000_000...1_000_000_000)
    } + ["quantity", "cart_size"].map {
        NumericLimit(field: "properties.\($0)", range: 0...1_000_000)
    }

    /// The defaults, with a policy's own ranges (field → range) replacing or adding to them.
    package static func merged(with policy: [String: ClosedRange<Double>]) -> [NumericLimit] {
        var limits = defaults.filter { policy[$0.field] == nil }
        for (field, range) in policy.sorted(by: { $0.key < $1.key }) {
            limits.append(NumericLimit(field: field, range: range))
        }
        return limits
    }

    /// Why `number` (found at `path`) is refused, or nil when it is in range.
    package func check(_ number: Double, at path: String) -> String? {
        guard !number.isFinite || !range.contains(number) else { return nil }
        return "out of range: \(path) must be between "
            + "\(JSONNumber(range.lowerBound)?.text ?? "?") and \(JSONNumber(range.upperBound)?.text ?? "?")"
    }
}
