/// Hex helpers for test vectors.
extension Array where Element == UInt8 {
    init(hex: String) {
        let chars: [Character] = hex.filter { !$0.isWhitespace }.map { $0 }
        precondition(chars.count % 2 == 0, "odd hex length")
        self = stride(from: 0, to: chars.count, by: 2).map { UInt8(String(chars[$0...$0 + 1]), radix: 16)! }
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

import Foundation
