package import CofferPolicy
package import CofferStore
import Foundation
import CofferFormats

/// The few fields of an event payload the single view reads, pulled out in one
/// pass over the bytes without building a JSON tree: values of other fields are
/// skipped, not decoded.
struct PayloadFields {
    var event: String?
    /// `timestamp`, in ms since 1970 (nil when missing or not an ISO-8601 time with a zone).
    var time: Int64?
    var userID: String?
    var contextChannel: String?
    /// `context.device.token`: the app's push token.
    var deviceToken: String?
    /// From `traits` (identify, rectify) or `context.traits` (others).
    var traits = Values<Trait>()
    var properties = Values<Property>()
    /// `properties.products` of an e-commerce event (Segment's spec), each line's item and category.
    var products: [ProductLine] = []

    /// One line of `products[]`: the item (its `name`, else `product_id`, else `sku`), its
    /// category, price and quantity.
    struct ProductLine: Equatable {
        var item: String
        var category: String?
        var price: Double?
        var quantity: Double?
    }

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

    /// The traits the single view reads: the source keys of `SingleViewColumn.all`,
    /// one slot each, in the order of `SingleViewColumn.traitKeys`.
    enum Trait: Slots {
        static let keys = SingleViewColumn.traitKeys
    }

    /// The event properties the single view reads, one slot per case.
    enum Property: Int, CaseIterable, Slots {
        case revenue, spending, total, amount, channel, rating, cart_size, products
        static let keys = allCases.map { String(describing: $0) }
    }

    /// The keys of a `products[]` line read, one slot per case.
    enum ProductKey: Int, CaseIterable, Slots {
        case name, product_id, sku, category, price, quantity
        static let keys = allCases.map { String(describing: $0) }
    }

    /// A fixed list of JSON keys, a slot each.
    protocol Slots { static var keys: [String] { get } }

    /// The values found for the keys of `Key`, one slot per key (no hashing:
    /// the fields of a million events are read in a build).
    struct Values<Key: Slots>: Equatable {
        /// Allocated at the first value set, and kept through `clear()`: a scan reusing one
        /// `PayloadFields` allocates (and frees) no slots per event.
        private var slots: [TraitValue?] = []
        /// Whether no value is set (the slots may be allocated, all nil).
        private(set) var isEmpty = true

        /// The value of the key in `slot`.
        subscript(slot: Int) -> TraitValue? { isEmpty ? nil : slots[slot] }

        /// The value of `key`, when it is one of `Key.keys`.
        subscript(key: String) -> TraitValue? { Key.keys.firstIndex(of: key).flatMap { self[$0] } }

        /// Sets the value of the key at `index` of `Key.keys`.
        mutating func set(_ value: TraitValue, at index: Int) {
            if slots.isEmpty { slots = Array(repeating: nil, count: Key.keys.count) }
            slots[index] = value
            isEmpty = false
        }

        /// Unsets every value, keeping the slots.
        mutating func clear() {
            guard !isEmpty else { return }
            for index in slots.indices { slots[index] = nil }
            isEmpty = true
        }

        static func == (lhs: Self, rhs: Self) -> Bool { lhs.named == rhs.named }

        /// The values found, by JSON key.
        var named: [String: TraitValue] {
            var named: [String: TraitValue] = [:]
            for (key, value) in zip(Key.keys, slots) { if let value { named[key] = value } }
            return named
        }
    }

    /// Back to no fields, keeping the allocated slots and lines.
    mutating func reset() {
        (event, time, userID, contextChannel, deviceToken) = (nil, nil, nil, nil, nil)
        traits.clear()
        properties.clear()
        products.removeAll(keepingCapacity: true)
    }

    /// JSON keys matched as bytes, without making strings of them.
    static let topKeys = KeyTable(["event", "timestamp", "userId", "traits", "properties", "context"])
    static let contextKeys = KeyTable(["channel", "traits", "device"])
    static let deviceKeys = KeyTable(["token"])
    static let traitKeys = KeyTable(Trait.keys)
    static let propertyKeys = KeyTable(Property.keys)
    static let productKeys = KeyTable(ProductKey.keys)

    /// Extracts the fields; nil when the bytes are not a JSON object.
    static func scan(_ bytes: [UInt8]) -> PayloadFields? {
        var fields = PayloadFields()
        return scan(bytes, into: &fields) ? fields : nil
    }

    /// Extracts the fields into `fields`, whatever it held before (a build reuses one for
    /// every event, so that its slots are not allocated and freed per event); false when
    /// the bytes are not a JSON object.
    static func scan(_ bytes: [UInt8], into fields: inout PayloadFields) -> Bool {
        fields.reset()
        let (top, context, traitKeys, propertyKeys, deviceKeys) = (topKeys, contextKeys, traitKeys, propertyKeys, deviceKeys)
        return bytes.withUnsafeBufferPointer { buffer -> Bool in
            var scanner = FieldScanner(bytes: buffer)
            scanner.space()
            guard scanner.index < buffer.count, buffer[scanner.index] == UInt8(ascii: "{") else { return false }
            return scanner.object({ key, scanner in
                switch top.index(of: key) {
                case 0: fields.event = scanner.stringValue()
                case 1: fields.time = scanner.timeValue()
                case 2: fields.userID = scanner.stringValue()
                case 3: return scanner.object { key, scanner in scanner.keep(traitKeys.index(of: key), into: &fields.traits) }
                case 4:
                    return scanner.object { key, scanner in
                        let slot = propertyKeys.index(of: key)
                        guard slot == Property.products.rawValue else { return scanner.keep(slot, into: &fields.properties) }
                        return scanner.products(into: &fields.products)
                    }
                case 5:
                    return scanner.object { key, scanner in
                        switch context.index(of: key) {
                        case 0: fields.contextChannel = scanner.stringValue(); return true
                        case 1: return scanner.object { key, scanner in scanner.keep(traitKeys.index(of: key), into: &fields.traits) }
                        case 2:
                            return scanner.object { key, scanner in
                                guard deviceKeys.index(of: key) == 0 else { return scanner.skipValue() }
                                fields.deviceToken = scanner.stringValue()
                                return true
                            }
                        default: return scanner.skipValue()
                        }
                    }
                default: return scanner.skipValue()
                }
                return true
            })
        }
    }
}

extension PayloadFields.Values where Key == PayloadFields.Property {
    subscript(key: Key) -> PayloadFields.TraitValue? { self[key.rawValue] }
}

/// A fixed set of keys, looked up by their UTF-8 bytes: candidates of the
/// same length, compared with memcmp. The tables are static and live as long
/// as the process, in plain memory that lookups read without reference
/// counting (they run for every key of every event a build reads).
struct KeyTable: @unchecked Sendable {
    /// Every key's bytes, one after the other, grouped by length.
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Per key in that order: where its bytes start and its position among the keys given.
    private let entries: UnsafeBufferPointer<(start: Int, index: Int)>
    /// For each length, the range of `entries` with keys of that length.
    private let byLength: UnsafeBufferPointer<Range<Int>>

    init(_ keys: [String]) {
        let sorted = keys.enumerated().sorted { ($0.element.utf8.count, $0.offset) < ($1.element.utf8.count, $1.offset) }
        var bytes: [UInt8] = [], entries: [(start: Int, index: Int)] = []
        var byLength = [Range<Int>](repeating: 0..<0, count: (keys.map(\.utf8.count).max() ?? 0) + 1)
        for (index, key) in sorted {
            let length = key.utf8.count
            if byLength[length].isEmpty { byLength[length] = entries.count..<entries.count }
            entries.append((bytes.count, index))
            bytes.append(contentsOf: key.utf8)
            byLength[length] = byLength[length].lowerBound..<entries.count
        }
        func permanent<T>(_ array: [T]) -> UnsafeBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
            _ = buffer.initialize(from: array)
            return UnsafeBufferPointer(rebasing: buffer[..<array.count])
        }
        self.bytes = permanent(bytes)
        self.entries = permanent(entries)
        self.byLength = permanent(byLength)
    }

    /// The position of `key` among the table's keys, or nil.
    func index(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard key.count < byLength.count, let base = key.baseAddress, let keys = bytes.baseAddress else { return nil }
        for entry in entries[byLength[key.count]] where memcmp(keys + entry.start, base, key.count) == 0 {
            return entry.index
        }
        return nil
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
    mutating func object(_ member: (UnsafeBufferPointer<UInt8>, inout FieldScanner) -> Bool) -> Bool {
        space()
        guard index < bytes.count else { return false }
        guard bytes[index] == UInt8(ascii: "{") else { return skipValue() }
        index += 1
        space()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return true }
        while true {
            space()
            guard let key = rawString() else { return false }
            space()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
            index += 1
            space()
            let kept: Bool
            switch key {
            case let .raw(raw): kept = member(raw, &self)
            case var .decoded(text): kept = text.withUTF8 { member($0, &self) }
            }
            guard kept else { return false }
            space()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return true }
            return false
        }
    }

    /// A key or string value: its bytes where they lie when it has no escapes
    /// (nearly always), else decoded.
    enum RawString {
        case raw(UnsafeBufferPointer<UInt8>)
        case decoded(String)
    }

    /// Reads a string at `index` (which must be at its opening quote) without
    /// making a String of it when it has no escapes. Nil when malformed.
    mutating func rawString() -> RawString? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        var end = index + 1
        while end < bytes.count {
            switch bytes[end] {
            case UInt8(ascii: "\""):
                defer { index = end + 1 }
                return .raw(UnsafeBufferPointer(rebasing: bytes[(index + 1)..<end]))
            case UInt8(ascii: "\\"):
                return string().map(RawString.decoded)
            default:
                end += 1
            }
        }
        return nil
    }

    /// Keeps the value in slot `slot` of `values` when the key is wanted (`slot` not nil); skips it otherwise.
    mutating func keep<Key>(_ slot: Int?, into values: inout PayloadFields.Values<Key>) -> Bool {
        guard let slot else { return skipValue() }
        space()
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "\"") {
            guard let text = string() else { return false }
            values.set(.text(text), at: slot)
            return true
        }
        var lexer = PayloadJSON.Parser(bytes: bytes)
        lexer.index = index
        if let number = lexer.number() {
            index = lexer.index
            values.set(.number(number), at: slot)
            return true
        }
        return skipValue()   // true, false, null, objects and arrays are not kept
    }

    /// Reads `products[]`: each object's item, category, price and quantity; lines
    /// without a name, product_id or sku are skipped, as is a value that is not an array.
    mutating func products(into lines: inout [PayloadFields.ProductLine]) -> Bool {
        space()
        guard index < bytes.count else { return false }
        guard bytes[index] == UInt8(ascii: "[") else { return skipValue() }
        index += 1
        space()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return true }
        let keys = PayloadFields.productKeys
        while true {
            var values = PayloadFields.Values<PayloadFields.ProductKey>()
            guard object({ key, scanner in scanner.keep(keys.index(of: key), into: &values) }) else { return false }
            func text(_ key: PayloadFields.ProductKey) -> String? {
                switch values[key.rawValue] {
                case let .text(text)?: return text.isEmpty ? nil : text
                case let .number(number)?: return Cell.real(number).description   // 42, not 42.0
                case nil: return nil
                }
            }
            if let item = text(.name) ?? text(.product_id) ?? text(.sku) {
                lines.append(.init(item: item, category: text(.category), price: values[PayloadFields.ProductKey.price.rawValue]?.double,
                                   quantity: values[PayloadFields.ProductKey.quantity.rawValue]?.double))
            }
            space()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") { index += 1; space(); continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return true }
            return false
        }
    }

    /// A timestamp string's time, parsed where its bytes lie (it is in every event);
    /// nil (and skipped) when the value is not a string.
    mutating func timeValue() -> Int64? {
        space()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            _ = skipValue()
            return nil
        }
        switch rawString() {
        case let .raw(text)?: return Timestamp.parse(utf8: text)
        case let .decoded(text)?: return Timestamp.parse(text)
        case nil: return nil
        }
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

extension StoredEvent {
    /// The time the event is filed under for retention: the time it carries,
    /// but no later than when it was recorded (`KeyEpoch.filingTime`).
    package var filingTime: Int64 {
        KeyEpoch.filingTime(occurredAt: PayloadFields.scan(payload)?.time, recordedAt: recordedAt)
    }
}

extension RetentionCutoffs {
    /// Whether a stored event is past retention, by its filing time.
    package func isExpired(_ event: StoredEvent) -> Bool { isExpired(event.kind, at: event.filingTime) }
}
