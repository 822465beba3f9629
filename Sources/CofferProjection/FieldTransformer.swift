import CofferCrypto
import CofferPolicy
import CofferStore
import CofferFormats

/// Applies the policy engine's decision to one value on its way into a projection.
struct FieldTransformer {
    private let hmac: HMACSHA256

    /// - Parameter key: the projection file's key; tokens differ between files,
    ///   so tokens of one purpose cannot be joined with another's.
    init(key: SymmetricKey) throws {
        hmac = try HMACSHA256(key: try HKDF.deriveKey(from: key, label: "coffer/v1/projection-tokens"))
    }

    /// A column's decision, worked out once for every value of the column: what
    /// happens to each value, with the rule's parameters (a build transforms
    /// every cell of every file, so nothing is looked up per value).
    enum Step {
        case keep
        case withhold
        case redact
        /// `prefix` is the field's name and a colon: the token is of `field:value`.
        case token(prefix: [UInt8])
        case truncate(Int)
        case band(Int)
        case month
        case year
        case date
        case week
        case round(Double)

        init(_ decision: Decision, field: String) {
            switch decision.transform {
            case .allow: self = .keep
            case .deny: self = .withhold
            case .redact: self = .redact
            case .tokenise: self = .token(prefix: Array(field.utf8) + [UInt8(ascii: ":")])
            case .truncate: self = decision.rule?.truncate.map(Step.truncate) ?? .withhold
            case .generalise:
                switch decision.rule?.generalise {
                case let .band(width)?: self = .band(width)
                case .month?: self = .month
                case .year?: self = .year
                case .date?: self = .date
                case .week?: self = .week
                case let .round(step)?: self = .round(step)
                case .keep?: self = .keep
                case nil: self = .withhold
                }
            }
        }
    }

    /// The keyed token of `prefix ‖ value` (`prefix` is `field:`): the first 16
    /// bytes of its HMAC, in hex (32 digits).
    private func token(prefix: [UInt8], value: String) throws -> String {
        var value = value
        return try value.withUTF8 { text in
            try withUnsafeTemporaryAllocation(byteCount: prefix.count + text.count + HMACSHA256.byteCount, alignment: 8) { buffer in
                let input = UnsafeMutableRawBufferPointer(rebasing: buffer[..<(prefix.count + text.count)])
                input.copyBytes(from: prefix)
                UnsafeMutableRawBufferPointer(rebasing: input[prefix.count...]).copyBytes(from: text)
                let mac = UnsafeMutableRawBufferPointer(rebasing: buffer[input.count...])
                try hmac.authenticate(UnsafeRawBufferPointer(input), into: mac)
                return UnsafeRawBufferPointer(rebasing: mac[..<16]).bindMemory(to: UInt8.self).hexString
            }
        }
    }

    func apply(_ decision: Decision, field: String, to cell: Cell) throws -> Cell {
        try apply(Step(decision, field: field), to: cell)
    }

    /// The Monday of the ISO week of a date or date-time (`2026-03-05T10:12:44.000Z`
    /// → `2026-03-02`), from its first ten characters, without a full parse:
    /// every row of every analyst file goes through it (days-from-civil
    /// arithmetic, as `Timestamp` does).
    static func mondayOfWeek(_ text: String) -> String? {
        var utf8 = text.utf8.makeIterator()
        func number(_ digits: Int) -> Int? {
            var value = 0
            for _ in 0..<digits {
                guard let byte = utf8.next(), (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(4), utf8.next() == UInt8(ascii: "-"), let month = number(2), utf8.next() == UInt8(ascii: "-"),
              let day = number(2), (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = CivilCalendar.daysFromCivil(year: year, month: month, day: day)
        // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
        let (yy, m, d) = CivilCalendar.civilFromDays(days - (((days + 3) % 7) + 7) % 7)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(yy, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    func apply(_ step: Step, to cell: Cell) throws -> Cell {
        if cell == .null { return .null }
        switch step {
        case .keep: return cell
        case .withhold: return .null
        case .redact: return .text("[redacted]")
        case let .token(prefix): return .text(try token(prefix: prefix, value: cell.description))
        case let .truncate(length): return .text(String(cell.description.prefix(length)))
        case let .band(width):
            guard let value = cell.double, value.isFinite,
                  let band = Int(exactly: (value / Double(width)).rounded(.down)),
                  case (let low, false) = band.multipliedReportingOverflow(by: width),
                  case (let high, false) = low.addingReportingOverflow(width - 1) else { return .null }
            return .text("\(low)-\(high)")
        case .month:
            if case .integer = cell { return cell }
            let parts = cell.description.split(separator: "-")
            return parts.count >= 2 ? .text(String(parts[1])) : .null
        case .year: return .text(String(cell.description.prefix(4)))
        case .date: return .text(String(cell.description.prefix(10)))
        case .week:
            guard case let .text(text) = cell, let monday = Self.mondayOfWeek(text) else { return .null }
            return .text(monday)
        case let .round(step):
            guard let value = cell.double, value.isFinite else { return .null }
            let rounded = (value / step).rounded() * step
            guard rounded.isFinite else { return .null }
            return step == step.rounded() ? SingleView.whole(rounded) : .real(rounded)
        }
    }
}
