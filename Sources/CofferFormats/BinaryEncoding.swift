/// Big-endian encoding helpers for canonical byte strings (hashes, signatures,
/// associated data). Fixed widths, so no two field lists encode alike.
extension Array where Element == UInt8 {
    package mutating func appendBigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    package mutating func appendBigEndian(_ value: Int64) { appendBigEndian(UInt64(bitPattern: value)) }

    package mutating func appendBigEndian(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    package mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// A length-prefixed (u32) byte string.
    package mutating func appendLengthPrefixed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        appendBigEndian(UInt32(bytes.count))
        append(contentsOf: bytes)
    }
}
