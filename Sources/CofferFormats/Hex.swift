/// Hexadecimal text of bytes, both ways.
extension Collection where Element == UInt8 {
    /// Lower-case hexadecimal, written straight into the string (no intermediate array).
    package var hexString: String {
        if let hex = withContiguousStorageIfAvailable(Self.hex) { return hex }
        return Array(self).withUnsafeBufferPointer(Self.hex)
    }

    /// Hex of contiguous bytes: a tight loop with the digits computed, not looked up
    /// (the generic, table-driven loop cost more than the HMAC of the tokens it printed).
    private static func hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            @inline(__always) func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
            for (offset, byte) in bytes.enumerated() {
                out[2 * offset] = digit(byte >> 4)
                out[2 * offset + 1] = digit(byte & 0x0f)
            }
            return bytes.count * 2
        }
    }
}

extension Array where Element == UInt8 {
    /// Parses lower- or upper-case hexadecimal; nil if malformed.
    package init?(hexString: String) {
        let utf8 = Array(hexString.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }
}
