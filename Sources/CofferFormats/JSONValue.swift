/// A JSON value as ingest works with it: typed (no `Any`, no bridging) and
/// with numbers kept as their canonical text, so an event's canonical form —
/// and with it the content-based dedup key — is exactly what was read.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The object, if this is one.
    package var object: JSONObject? {
        if case let .object(object) = self { return object }
        return nil
    }

    /// The string, if this is one.
    package var string: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    /// `true` for JSON `null`.
    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON number in canonical form: integers in Int64/UInt64 range as
/// decimal digits, every other number as the shortest text that reads back
/// as the same Double (`1.0` → `1`, `1e2` → `100`, `0.10` → `0.1`).
package struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The canonical text.
    package let text: String

    /// An integer.
    package init(_ value: Int64) {
        text = String(value)
    }

    /// A finite Double; nil for NaN and infinities, which JSON cannot hold.
    package init?(_ value: Double) {
        guard value.isFinite else { return nil }
        if value == value.rounded(), abs(value) < 1e15 {
            text = String(Int64(value))
        } else {
            text = "\(value)"  // Swift's shortest representation that round-trips
        }
    }

    /// Text already in canonical form.
    init(canonical text: String) {
        self.text = text
    }

    /// A number literal as JSON writes it (the parser has checked the grammar).
    /// Nil when it is out of Double's range.
    init?(literal: Substring, isInteger: Bool) {
        if isInteger {
            if let value = Int64(literal) {
                self.init(canonical: String(value))
                return
            }
            if let value = UInt64(literal) {
                self.init(canonical: String(value))
                return
            }
        }
        guard let double = Double(literal) else { return nil }
        self.init(double)
    }

    /// The integer this number is, as text (ids may arrive as integers); nil for fractions.
    package var integerText: String? {
        let digits = text.utf8.drop { $0 == UInt8(ascii: "-") }
        return !digits.isEmpty && digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) ? text : nil
    }

    package var description: String { text }
}

/// A JSON object: its members in the order read. Keys are unique (the last
/// of repeated keys wins, as in a dictionary). Events are small, so lookups
/// are a linear scan, which beats hashing at this size.
package struct JSONObject: Sendable, Equatable {
    package private(set) var members: [(key: String, value: JSONValue)]

    package init() {
        members = []
    }

    /// Members whose keys are already unique.
    init(uniqueMembers: [(key: String, value: JSONValue)]) {
        members = uniqueMembers
    }

    /// Members as read; a repeated key keeps its last value.
    init(members: [(key: String, value: JSONValue)]) {
        self.members = members
        guard members.count > 1 else { return }
        let repeated: Bool
        if members.count <= 16 {
            repeated = members.indices.contains { i in members[..<i].contains { $0.key == members[i].key } }
        } else {
            var seen = Set<String>(minimumCapacity: members.count)
            repeated = members.contains { !seen.insert($0.key).inserted }
        }
        guard repeated else { return }
        var unique: [(key: String, value: JSONValue)] = []
        for member in members {
            if let index = unique.firstIndex(where: { $0.key == member.key }) {
                unique[index].value = member.value
            } else {
                unique.append(member)
            }
        }
        self.members = unique
    }

    /// The value of `key`; setting nil removes it.
    package subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            let index = members.firstIndex { $0.key == key }
            switch (index, newValue) {
            case let (index?, value?): members[index].value = value
            case let (index?, nil): members.remove(at: index)
            case let (nil, value?): members.append((key, value))
            case (nil, nil): break
            }
        }
    }

    package var keys: [String] { members.map(\.key) }

    package var isEmpty: Bool { members.isEmpty }

    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && lhs.members.allSatisfy { member in rhs[member.key] == member.value }
    }
}
