import CofferFormats
import CofferPolicy
import CofferStore

/// A policy's numeric limits arranged by path, so an event is checked by walking
/// its own members once (each matched against the few keys of its level) instead
/// of looking every limit's path up from the top of the event (linear scans of the
/// members, 4 % of an ingest for the default limits).
struct NumericLimitChecker: Sendable {
    /// One level of the paths: the keys below it and the checks that end here (indexes into `checks`).
    /// A few keys a level: compared in turn (short ASCII strings compare as two words), which
    /// was cheaper than hashing every member's key for a dictionary.
    private struct Node: Sendable {
        var children: [(key: String, node: Int)] = []
        var ending: [Int] = []

        func child(_ key: String) -> Int? {
            for child in children where child.key == key { return child.node }
            return nil
        }
    }

    /// Every limit's every path, in the order the limits are listed (which decides the reason given
    /// when an event breaks more than one).
    private let checks: [(limit: NumericLimit, path: [String])]
    private var nodes = [Node()]

    init(_ limits: [NumericLimit]) {
        checks = limits.flatMap { limit in limit.paths.map { (limit, $0) } }
        for (index, check) in checks.enumerated() {
            var node = 0
            for key in check.path {
                if let child = nodes[node].child(key) {
                    node = child
                } else {
                    nodes.append(Node())
                    nodes[node].children.append((key, nodes.count - 1))
                    node = nodes.count - 1
                }
            }
            nodes[node].ending.append(index)
        }
    }

    /// Why `event` breaks a limit, or nil: the first broken in the limits' order. Numbers and
    /// numeric strings (which the build would read as numbers) are both checked.
    func violation(in event: JSONObject) -> Rejection? {
        var first: (check: Int, number: Double)?
        walk(event, from: 0, &first)
        guard let first else { return nil }
        let check = checks[first.check]
        return check.limit.check(first.number, at: check.path.joined(separator: ".")).map(Rejection.init)
    }

    private func walk(_ object: JSONObject, from node: Int, _ first: inout (check: Int, number: Double)?) {
        for (key, value) in object.members {
            guard let child = nodes[node].child(key) else { continue }
            if !nodes[child].ending.isEmpty, let number = Self.number(value) {
                for check in nodes[child].ending where first.map({ check < $0.check }) ?? true
                    && checks[check].limit.check(number, at: "") != nil {
                    first = (check, number)
                }
            }
            if !nodes[child].children.isEmpty, let inner = value.object { walk(inner, from: child, &first) }
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case let .number(number): Double(number.text)
        case let .string(text): Double(text.trimmedWhitespace)
        default: nil
        }
    }
}
