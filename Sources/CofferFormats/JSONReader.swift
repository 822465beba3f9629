/// A strict RFC 8259 JSON reader over bytes, for ingest's hot path.
///
/// `JSONSerialization` costs 9–15 µs per 400-byte event on Linux and hands
/// back `Any` trees whose casts cost as much again; this reader walks the
/// bytes once and builds a typed `JSONValue`. It accepts what
/// `JSONSerialization` accepts for an event: a top-level object or array
/// with optional surrounding white space, valid UTF-8, every escape
/// (surrogate pairs joined, lone surrogates refused), finite numbers, and
/// at most 512 levels of nesting.
package enum JSONReader {
    /// Nesting deeper than this is refused (JSONSerialization's limit).
    package static let maximumDepth = 512

    /// Why bytes are not a JSON document.
    package enum Failure: Error, Equatable {
        /// Not JSON (syntax, encoding, nesting, or a number out of range).
        case invalid
    }

    /// Reads one document: an object or an array.
    package static func document(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer in
            var cursor = Cursor(bytes: buffer)
            cursor.skipSpace()
            // A UTF-8 byte order mark may precede the document.
            if buffer.count - cursor.index >= 3, buffer[cursor.index] == 0xef, buffer[cursor.index + 1] == 0xbb,
               buffer[cursor.index + 2] == 0xbf {
                cursor.index += 3
                cursor.skipSpace()
            }
            guard cursor.index < buffer.count, buffer[cursor.index] == .openBrace || buffer[cursor.index] == .openBracket else {
                throw Failure.invalid
            }
            let value = try cursor.value()
            cursor.skipSpace()
            guard cursor.index == buffer.count else { throw Failure.invalid }
            return value
        }
    }

    /// Reads the string literal whose opening quote is at `index`, unescaped,
    /// and moves `index` past its closing quote: for scanners that walk JSON
    /// bytes themselves and read only some values.
    /// - Throws: `Failure.invalid` for a malformed string (bad escape, lone
    ///   surrogate, control character, invalid UTF-8, no closing quote).
    package static func string(in bytes: UnsafeBufferPointer<UInt8>, at index: inout Int) throws -> String {
        guard index < bytes.count, bytes[index] == .quote else { throw Failure.invalid }
        var cursor = Cursor(bytes: bytes)
        cursor.index = index
        let text = try cursor.string()
        index = cursor.index
        return text
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var depth = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0a, 0x0d, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func value() throws -> JSONValue {
            skipSpace()
            guard index < bytes.count else { throw Failure.invalid }
            switch bytes[index] {
            case .openBrace: return .object(try object())
            case .openBracket: return .array(try array())
            case .quote: return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default: return .number(try number())
            }
        }

        private mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw Failure.invalid }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
                throw Failure.invalid
            }
            index += count
        }

        private mutating func enter() throws {
            depth += 1
            guard depth <= JSONReader.maximumDepth else { throw Failure.invalid }
        }

        private mutating func object() throws -> JSONObject {
            try enter()
            defer { depth -= 1 }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == .closeBrace {
                index += 1
                return JSONObject()
            }
            var members: [(key: String, value: JSONValue)] = []
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == .quote else { throw Failure.invalid }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == .colon else { throw Failure.invalid }
                index += 1
                members.append((key, try value()))
                skipSpace()
                guard index < bytes.count else { throw Failure.invalid }
                if bytes[index] == .comma {
                    index += 1
                } else if bytes[index] == .closeBrace {
                    index += 1
                    return JSONObject(members: members)
                } else {
                    throw Failure.invalid
                }
            }
        }

        private mutating func array() throws -> [JSONValue] {
            try enter()
            defer { depth -= 1 }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == .closeBracket {
                index += 1
                return []
            }
            var elements: [JSONValue] = []
            while true {
                elements.append(try value())
                skipSpace()
                guard index < bytes.count else { throw Failure.invalid }
                if bytes[index] == .comma {
                    index += 1
                } else if bytes[index] == .closeBracket {
                    index += 1
                    return elements
                } else {
                    throw Failure.invalid
                }
            }
        }

        /// A string literal; the cursor is on its opening quote.
        mutating func string() throws -> String {
            index += 1
            let start = index
            var ascii = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte == .quote {
                    let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    if ascii { return String(decoding: text, as: UTF8.self) }
                    guard let valid = String(validating: text, as: UTF8.self) else { throw Failure.invalid }
                    return valid
                }
                if byte == .backslash { return try escapedString(from: start) }
                if byte < 0x20 { throw Failure.invalid }
                if byte >= 0x80 { ascii = false }
                index += 1
            }
            throw Failure.invalid
        }

        /// The rest of a string that holds escapes, decoded from `start` (just after the quote).
        private mutating func escapedString(from start: Int) throws -> String {
            var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case .quote:
                    guard let text = String(validating: decoded, as: UTF8.self) else { throw Failure.invalid }
                    return text
                case .backslash:
                    guard index < bytes.count else { throw Failure.invalid }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case .quote, .backslash, UInt8(ascii: "/"): decoded.append(escape)
                    case UInt8(ascii: "b"): decoded.append(0x08)
                    case UInt8(ascii: "f"): decoded.append(0x0c)
                    case UInt8(ascii: "n"): decoded.append(0x0a)
                    case UInt8(ascii: "r"): decoded.append(0x0d)
                    case UInt8(ascii: "t"): decoded.append(0x09)
                    case UInt8(ascii: "u"): decoded.append(contentsOf: try unicodeEscape())
                    default: throw Failure.invalid
                    }
                case 0..<0x20:
                    throw Failure.invalid
                default:
                    decoded.append(byte)
                }
            }
            throw Failure.invalid
        }

        /// The UTF-8 of a `\uXXXX` escape (the cursor is after the `u`), joining a surrogate pair.
        private mutating func unicodeEscape() throws -> [UInt8] {
            var scalar = try hexQuad()
            if (0xd800...0xdbff).contains(scalar) {
                guard bytes.count - index >= 6, bytes[index] == .backslash, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Failure.invalid
                }
                index += 2
                let low = try hexQuad()
                guard (0xdc00...0xdfff).contains(low) else { throw Failure.invalid }
                scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
            } else if (0xdc00...0xdfff).contains(scalar) {
                throw Failure.invalid
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw Failure.invalid }
            return Array(UTF8.encode(unicode)!)
        }

        private mutating func hexQuad() throws -> UInt32 {
            guard bytes.count - index >= 4 else { throw Failure.invalid }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Failure.invalid
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        private mutating func number() throws -> JSONNumber {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, bytes[index].isDigit else { throw Failure.invalid }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                skipDigits()
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, bytes[index].isDigit else { throw Failure.invalid }
                skipDigits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, bytes[index].isDigit else { throw Failure.invalid }
                skipDigits()
            }
            let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            // Short integers are already canonical (the grammar forbids leading zeros); only -0 is not.
            if isInteger, index - start <= 18, literal != "-0" { return JSONNumber(canonical: literal) }
            guard let number = JSONNumber(literal: Substring(literal), isInteger: isInteger) else { throw Failure.invalid }
            return number
        }

        private mutating func skipDigits() {
            while index < bytes.count, bytes[index].isDigit { index += 1 }
        }
    }
}

extension UInt8 {
    fileprivate static let openBrace = UInt8(ascii: "{")
    fileprivate static let closeBrace = UInt8(ascii: "}")
    fileprivate static let openBracket = UInt8(ascii: "[")
    fileprivate static let closeBracket = UInt8(ascii: "]")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let comma = UInt8(ascii: ",")

    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
}
