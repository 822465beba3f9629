import Foundation

/// Writes JSON values with object keys sorted by their UTF-8 bytes and no
/// insignificant white space: the same event always gives the same bytes,
/// which content-based dedup relies on.
///
/// Foundation's `.sortedKeys` on Linux compares keys with locale-aware
/// `NSString.compare` and was measured at ~170 µs per event (66 % of ingest);
/// this writer is a plain byte walk.
package enum CanonicalJSON {
    /// Serialises dictionaries, arrays, strings, numbers, booleans and null.
    /// - Throws: `Rejection` for a value JSON cannot hold (NaN, infinity, other types).
    package static func data(_ value: Any) throws -> [UInt8] {
        data(try JSONValue(any: value))
    }

    /// Serialises a typed value (what ingest reads and normalises).
    package static func data(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case let .bool(flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case let .number(number): out.append(contentsOf: number.text.utf8)
        case let .string(text): writeString(text, into: &out)
        case let .array(elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(object):
            out.append(UInt8(ascii: "{"))
            var first = true
            let members = object.members
            // Objects often arrive in order already (an event's own nesting): checked before sorting a copy.
            let inOrder = zip(members, members.dropFirst()).allSatisfy { $0.key.precedesInByteOrder($1.key) }
            for member in inOrder ? members : members.sorted(by: { $0.key.precedesInByteOrder($1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string literal (quoted; quote, backslash and control characters escaped).
    package static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var run = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                run = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case 0x0a: out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0x0f)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// A value built in code or returned by `JSONSerialization` (whose numbers
    /// are `NSNumber`s: the Objective-C type code says which kind), as a typed value.
    /// - Throws: `Rejection` for a value JSON cannot hold (NaN, infinity, other types).
    package init(any value: Any) throws {
        // Containers first: casting a Swift dictionary to NSNumber would bridge it whole to NSDictionary.
        if let object = value as? [String: Any] {
            self = .object(JSONObject(uniqueMembers: try object.map { (key: $0.key, value: try JSONValue(any: $0.value)) }))
            return
        }
        if let array = value as? [Any] {
            self = .array(try array.map { try JSONValue(any: $0) })
            return
        }
        let valueType = type(of: value)
        if valueType == String.self {
            self = .string(value as! String)
        } else if valueType == Bool.self {
            self = .bool(value as! Bool)
        } else if valueType == Int.self {
            self = .number(JSONNumber(Int64(value as! Int)))
        } else if valueType == Int64.self {
            self = .number(JSONNumber(value as! Int64))
        } else if valueType == Double.self {
            self = .number(try Self.finite(value as! Double))
        } else if value is NSNull {
            self = .null
        } else if let number = value as? NSNumber {
            switch number.objCType.pointee {
            case 0x63, 0x42: self = .bool(number.boolValue)                                        // c, B
            case 0x64, 0x66: self = .number(try Self.finite(number.doubleValue))                   // d, f
            case 0x51, 0x4c, 0x49, 0x53, 0x43: self = .number(JSONNumber(canonical: String(number.uint64Value)))  // Q L I S C
            default: self = .number(JSONNumber(number.int64Value))
            }
        } else if let text = value as? String {
            self = .string(text)
        } else {
            throw Rejection("invalid JSON: values cannot be encoded")
        }
    }

    private static func finite(_ value: Double) throws -> JSONNumber {
        guard let number = JSONNumber(value) else { throw Rejection("invalid JSON: numbers must be finite") }
        return number
    }
}
