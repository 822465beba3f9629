import Foundation

extension String {
    /// Whether this string's UTF-8 bytes sort before `other`'s (a memcmp of the two, then the
    /// shorter first): the order SQLite's BINARY collation and canonical JSON keys use, which
    /// `<` on strings (Unicode's canonical order) does not always give.
    package func precedesInByteOrder(_ other: String) -> Bool {
        var a = self, b = other   // contiguous already (native strings): no copy is made
        return a.withUTF8 { a in
            b.withUTF8 { b in
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
                return order != 0 ? order < 0 : a.count < b.count
            }
        }
    }
}
