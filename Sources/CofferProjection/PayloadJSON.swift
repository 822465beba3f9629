/// The JSON tokens the payload field scanner reads — strings (with escapes)
/// and numbers — decoded straight from the bytes, without Foundation
/// (`JSONSerialization` costs 9–15 µs per event on Linux).
enum PayloadJSON {
    /// Reads JSON strings and numbers from a buffer, starting at `index`.
    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        /// A string at `index` (its opening quote), unescaped; nil when malformed.
        mutating func string() -> String? {
            index += 1
            let start = index
            var plain = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    if plain {
                        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                        index += 1
                        return text
                    }
                    return unescape(from: start)
                }
                if byte == UInt8(ascii: "\\") {
                    plain = false
                    index += 2
                    continue
                }
                if byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }

        /// The slow path, for strings with escapes: re-reads from `start`.
        mutating func unescape(from start: Int) -> String? {
            var out: [UInt8] = []
            var i = start
            func hex4(_ at: Int) -> UInt32? {
                guard at + 4 <= bytes.count else { return nil }
                var value: UInt32 = 0
                for offset in 0..<4 {
                    let c = bytes[at + offset]
                    let digit: UInt32
                    switch c {
                    case 0x30...0x39: digit = UInt32(c - 0x30)
                    case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                    case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                    default: return nil
                    }
                    value = value << 4 | digit
                }
                return value
            }
            while i < bytes.count {
                let byte = bytes[i]
                if byte == UInt8(ascii: "\"") {
                    index = i + 1
                    return String(decoding: out, as: UTF8.self)
                }
                guard byte == UInt8(ascii: "\\") else {
                    out.append(byte)
                    i += 1
                    continue
                }
                guard i + 1 < bytes.count else { return nil }
                let escaped = bytes[i + 1]
                i += 2
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4(i) else { return nil }
                    i += 4
                    if (0xD800..<0xDC00).contains(scalar), i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                       bytes[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default: return nil
                }
            }
            return nil
        }

        /// A number at `index`, or nil when there is none.
        mutating func number() -> Double? {
            let start = index
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
            var mantissa: UInt64 = 0
            var digits = 0, fractionDigits = 0
            var exact = true
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                if digits < 18 { mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30) } else { exact = false }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                let before = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                    if digits < 18 { mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30); fractionDigits += 1 } else { exact = false }
                    digits += 1
                    index += 1
                }
                guard index > before else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                exact = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                let before = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
                guard index > before else { return nil }
            }
            if exact && fractionDigits <= 15 {
                var value = Double(mantissa)
                if fractionDigits > 0 { value /= Self.powersOfTen[fractionDigits] }
                return negative ? -value : value
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Double(text)
        }

        static let powersOfTen: [Double] = (0...15).map { var p = 1.0; for _ in 0..<$0 { p *= 10 }; return p }
    }
}
