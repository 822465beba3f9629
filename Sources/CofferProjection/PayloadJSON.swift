import CofferFormats
/// The JSON numbers the payload field scanner reads, decoded straight from
/// the bytes, without Foundation (`JSONSerialization` costs 9–15 µs per event
/// on Linux). Strings are read by ingest's `JSONReader`.
enum PayloadJSON {
    /// Reads JSON numbers from a buffer, starting at `index`.
    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

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
