import CofferCrypto
import CofferPolicy
import CofferStore

/// Applies the policy engine's decision to one value on its way into a projection.
struct FieldTransformer {
    private let hmac: HMACSHA256

    /// - Parameter key: the projection file's key; tokens differ between files,
    ///   so tokens of one purpose cannot be joined with another's.
    init(key: SymmetricKey) throws {
        hmac = try HMACSHA256(key: try HKDF.deriveKey(from: key, label: "coffer/v1/projection-tokens"))
    }

    /// The keyed token of `value` in `field`: 32 hex digits.
    func token(field: String, value: String) throws -> String {
        var input: [UInt8] = []
        input.reserveCapacity(field.utf8.count + 1 + value.utf8.count)
        input.append(contentsOf: field.utf8)
        input.append(UInt8(ascii: ":"))
        input.append(contentsOf: value.utf8)
        return try hmac.authenticate(input)[..<16].hexString
    }

    func apply(_ decision: Decision, field: String, to cell: Cell) throws -> Cell {
        if cell == .null { return .null }
        switch decision.transform {
        case .allow: return cell
        case .deny: return .null
        case .redact: return .text("[redacted]")
        case .tokenise: return .text(try token(field: field, value: cell.description))
        case .truncate:
            guard let length = decision.rule?.truncate else { return .null }
            return .text(String(cell.description.prefix(length)))
        case .generalise:
            switch decision.rule?.generalise {
            case let .band(width)?:
                guard let value = cell.double else { return .null }
                let low = Int((value / Double(width)).rounded(.down)) * width
                return .text("\(low)-\(low + width - 1)")
            case .month?:
                if case .integer = cell { return cell }
                let parts = cell.description.split(separator: "-")
                return parts.count >= 2 ? .text(String(parts[1])) : .null
            case .year?:
                return .text(String(cell.description.prefix(4)))
            case .date?:
                return .text(String(cell.description.prefix(10)))
            case .keep?:
                return cell
            case nil:
                return .null
            }
        }
    }
}
