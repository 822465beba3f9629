import CofferIngest

/// The few fields of an event payload the single view reads, pulled out in one
/// pass over the bytes without building a JSON tree: values of other fields are
/// skipped, not decoded.
struct PayloadFields {
    var event: String?
    var timestamp: String?
    var userID: String?
    var contextChannel: String?
    /// From `traits` (identify, rectify) or `context.traits` (others).
    var traits: [String: TraitValue] = [:]
    var properties: [String: TraitValue] = [:]

    enum TraitValue: Equatable {
        case text(String)
        case number(Double)

        var string: String? { if case let .text(text) = self { return text } else { return nil } }
        var double: Double? {
            switch self {
            case let .number(value): return value
            case let .text(text): return Double(text)
            }
        }
    }

    static let traitKeys: Set<String> = ["email", "phone", "firstName", "first_name", "lastName", "last_name", "gender", "birthday",
                                         "postcode", "postalCode", "zip", "city", "loyaltyId", "loyalty_id", "age",
                                         "loyaltyPoints", "loyalty_points"]
    static let propertyKeys: Set<String> = ["revenue", "spending", "total", "amount", "channel"]

    /// Extracts the fields; nil when the bytes are not a JSON object.
    static func scan(_ bytes: [UInt8]) -> PayloadFields? {
        bytes.withUnsafeBufferPointer { buffer -> PayloadFields? in
            var scanner = FieldScanner(bytes: buffer)
            scanner.space()
            guard scanner.index < buffer.count, buffer[scanner.index] == UInt8(ascii: "{") else { return nil }
            var fields = PayloadFields()
            guard scanner.object({ key, scanner in
                switch key {
                case "event": fields.event = scanner.stringValue()
                case "timestamp": fields.timestamp = scanner.stringValue()
                case "userId": fields.userID = scanner.stringValue()
                case "traits": return scanner.object { key, scanner in scanner.keep(key, in: traitKeys, into: &fields.traits) }
                case "properties": return scanner.object { key, scanner in scanner.keep(key, in: propertyKeys, into: &fields.properties) }
                case "context":
                    return scanner.object { key, scanner in
                        switch key {
                        case "channel": fields.contextChannel = scanner.stringValue(); return true
                        case "traits": return scanner.object { key, scanner in scanner.keep(key, in: traitKeys, into: &fields.traits) }
                        default: return scanner.skipValue()
                        }
                    }
                default: return scanner.skipValue()
                }
                return true
            }) else { return nil }
            return fields
        }
    }
}

/// A byte-level JSON walker: objects are visited key by key; a value is either
/// read (string or number) or skipped.
struct FieldScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func space() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0a || bytes[index] == 0x0d || bytes[index] == 0x09 {
            index += 1
        }
    }

    /// Visits an object's members; `member` reads or skips each value. A value
    /// that is not an object is skipped and `member` is not called.
    mutating func object(_ member: (String, inout FieldScanner) -> Bool) -> Bool {
        space()
        guard index < bytes.count else { return false }
        guard bytes[index] == UInt8(ascii: "{") else { return skipValue() }
        index += 1
        space()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return true }
        while true {
            space()
            guard let key = string() else { return false }
            space()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
            index += 1
            space()
            guard member(key, &self) else { return false }
            space()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return true }
            return false
        }
    }

    /// Keeps the value of `key` in `values` when `key` is wanted; skips it otherwise.
    mutating func keep(_ key: String, in wanted: Set<String>, into values: inout [String: PayloadFields.TraitValue]) -> Bool {
        guard wanted.contains(key) else { return skipValue() }
        space()
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "\"") {
            guard let text = string() else { return false }
            values[key] = .text(text)
            return true
        }
        var lexer = PayloadJSON.Parser(bytes: bytes)
        lexer.index = index
        if let number = lexer.number() {
            index = lexer.index
            values[key] = .number(number)
            return true
        }
        return skipValue()   // true, false, null, objects and arrays are not kept
    }

    /// A string value, or nil (and skipped) when the value is not a string.
    mutating func stringValue() -> String? {
        space()
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "\"") { return string() }
        _ = skipValue()
        return nil
    }

    /// Reads a string at `index` (which must be at its opening quote).
    mutating func string() -> String? {
        try? JSONReader.string(in: bytes, at: &index)
    }

    /// Skips one value of any kind.
    mutating func skipValue() -> Bool {
        space()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            index += 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\\") { index += 2; continue }
                if bytes[index] == UInt8(ascii: "\"") { index += 1; return true }
                index += 1
            }
            return false
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var inString = false
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if inString {
                    if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return true }
                default: break
                }
            }
            return false
        default:
            while index < bytes.count, !",}] \n\r\t".utf8.contains(bytes[index]) { index += 1 }
            return true
        }
    }
}
