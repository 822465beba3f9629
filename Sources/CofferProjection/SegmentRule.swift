/// The rule language of segments: comparisons of single-view fields with
/// numbers, quoted strings, `true`/`false` or `current_month`, combined with
/// `and`, `or`, `not` and parentheses.
///
///     shop_times >= 10 and avg_spend > 15
///     birthday_month == current_month
///     recency > 90 and shop_times >= 3
///     channels contains 'app' or not (email_open_rate < 0.5)
public indirect enum SegmentRule: Sendable, Equatable {
    case comparison(Operand, Comparison, Operand)
    case and(SegmentRule, SegmentRule)
    case or(SegmentRule, SegmentRule)
    case not(SegmentRule)

    public enum Operand: Sendable, Equatable {
        case field(String)
        case number(Double)
        case text(String)
        case currentMonth
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case equal = "==", notEqual = "!=", greaterOrEqual = ">=", lessOrEqual = "<=", greater = ">", less = "<"
        /// `channels contains 'app'`: one of the comma-separated items equals the value.
        case contains
    }

    /// Every field the rule reads.
    public var fields: Set<String> {
        switch self {
        case let .comparison(left, _, right):
            return Set([left, right].compactMap { if case let .field(name) = $0 { return name } else { return nil } })
        case let .and(a, b), let .or(a, b): return a.fields.union(b.fields)
        case let .not(rule): return rule.fields
        }
    }

    /// Whether a row (raw single-view values by field name) matches; a comparison with a missing value is false.
    public func matches(_ row: [String: Cell], currentMonth: Int) -> Bool {
        matches({ row[$0] ?? .null }, currentMonth: currentMonth)
    }

    /// Whether the row whose values `field` returns matches.
    public func matches(_ field: (String) -> Cell, currentMonth: Int) -> Bool {
        switch self {
        case let .and(a, b): return a.matches(field, currentMonth: currentMonth) && b.matches(field, currentMonth: currentMonth)
        case let .or(a, b): return a.matches(field, currentMonth: currentMonth) || b.matches(field, currentMonth: currentMonth)
        case let .not(rule): return !rule.matches(field, currentMonth: currentMonth)
        case let .comparison(left, op, right):
            func value(_ operand: Operand) -> Cell {
                switch operand {
                case let .field(name): return field(name)
                case let .number(number): return .real(number)
                case let .text(text): return .text(text)
                case .currentMonth: return .integer(currentMonth)
                }
            }
            let a = value(left), b = value(right)
            if a == .null || b == .null { return false }
            if op == .contains {
                return a.description.split(separator: ",").contains { $0 == b.description }
            }
            if let x = a.double, let y = b.double { return op.holds(x, y) }
            return op.holds(a.description, b.description)
        }
    }
}

extension SegmentRule.Comparison {
    /// Whether `x op y` holds (numbers numerically, text by code points; `contains` is handled on lists).
    func holds<T: Comparable>(_ x: T, _ y: T) -> Bool {
        switch self {
        case .equal: return x == y
        case .notEqual: return x != y
        case .greater: return x > y
        case .greaterOrEqual: return x >= y
        case .less: return x < y
        case .lessOrEqual: return x <= y
        case .contains: return false
        }
    }
}

/// A rule that does not parse: what was expected, and at which character (1-based).
public struct SegmentRuleError: Error, Equatable, CustomStringConvertible {
    public var column: Int
    public var message: String
    public var description: String { "column \(column): \(message)" }
}

extension SegmentRule {
    /// Parses `text`; `knownFields` are the names a field operand may take.
    public static func parse(_ text: String, knownFields: Set<String>) throws -> SegmentRule {
        var parser = RuleParser(tokens: try RuleLexer.tokens(text), knownFields: knownFields, length: text.count)
        let rule = try parser.expression()
        if let extra = parser.peek { throw SegmentRuleError(column: extra.column, message: "unexpected '\(extra.text)' after a complete rule") }
        return rule
    }
}

struct RuleToken: Equatable {
    enum Kind: Equatable { case word, number, string, op, open, close }
    var kind: Kind
    var text: String
    var column: Int
}

enum RuleLexer {
    static func tokens(_ text: String) throws -> [RuleToken] {
        var tokens: [RuleToken] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let column = i + 1
            if c.isWhitespace { i += 1; continue }
            if c == "(" || c == ")" {
                tokens.append(RuleToken(kind: c == "(" ? .open : .close, text: String(c), column: column))
                i += 1
            } else if "<>=!".contains(c) {
                var op = ""
                while i < chars.count, "<>=!".contains(chars[i]) { op.append(chars[i]); i += 1 }
                guard SegmentRule.Comparison(rawValue: op) != nil else {
                    throw SegmentRuleError(column: column, message: "unknown operator '\(op)'; use ==, !=, >, >=, < or <=")
                }
                tokens.append(RuleToken(kind: .op, text: op, column: column))
            } else if c == "'" || c == "\"" {
                var j = i + 1
                var value = ""
                while j < chars.count, chars[j] != c { value.append(chars[j]); j += 1 }
                guard j < chars.count else { throw SegmentRuleError(column: column, message: "unterminated string: add the closing \(c)") }
                tokens.append(RuleToken(kind: .string, text: value, column: column))
                i = j + 1
            } else if c.isNumber || (c == "-" && i + 1 < chars.count && chars[i + 1].isNumber) || c == "." {
                var j = i + 1
                while j < chars.count, chars[j].isNumber || chars[j] == "." { j += 1 }
                let number = String(chars[i..<j])
                guard Double(number) != nil else { throw SegmentRuleError(column: column, message: "'\(number)' is not a number") }
                tokens.append(RuleToken(kind: .number, text: number, column: column))
                i = j
            } else if c.isLetter || c == "_" {
                var j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                tokens.append(RuleToken(kind: .word, text: String(chars[i..<j]), column: column))
                i = j
            } else {
                throw SegmentRuleError(column: column, message: "unexpected character '\(c)'")
            }
        }
        return tokens
    }
}

struct RuleParser {
    let tokens: [RuleToken]
    let knownFields: Set<String>
    let length: Int
    var index = 0

    var peek: RuleToken? { index < tokens.count ? tokens[index] : nil }
    var end: Int { length + 1 }

    mutating func expression() throws -> SegmentRule {
        var rule = try conjunction()
        while let token = peek, token.kind == .word, token.text == "or" {
            index += 1
            rule = .or(rule, try conjunction())
        }
        return rule
    }

    mutating func conjunction() throws -> SegmentRule {
        var rule = try negation()
        while let token = peek, token.kind == .word, token.text == "and" {
            index += 1
            rule = .and(rule, try negation())
        }
        return rule
    }

    mutating func negation() throws -> SegmentRule {
        if let token = peek, token.kind == .word, token.text == "not" {
            index += 1
            return .not(try negation())
        }
        if let token = peek, token.kind == .open {
            index += 1
            let inner = try expression()
            guard let close = peek, close.kind == .close else {
                throw SegmentRuleError(column: peek?.column ?? end, message: "expected ')' to close the '(' at column \(token.column)")
            }
            index += 1
            return inner
        }
        let left = try operand()
        guard let op = peek, op.kind == .op || (op.kind == .word && op.text == "contains"),
              let comparison = SegmentRule.Comparison(rawValue: op.text) else {
            throw SegmentRuleError(column: peek?.column ?? end,
                                   message: "expected a comparison (==, !=, >, >=, <, <=, contains) after '\(tokens[index - 1].text)'")
        }
        index += 1
        return .comparison(left, comparison, try operand())
    }

    mutating func operand() throws -> SegmentRule.Operand {
        guard let token = peek else { throw SegmentRuleError(column: end, message: "the rule ends where a field or value was expected") }
        index += 1
        switch token.kind {
        case .number: return .number(Double(token.text)!)
        case .string: return .text(token.text)
        case .word:
            switch token.text {
            case "current_month": return .currentMonth
            case "true": return .number(1)
            case "false": return .number(0)
            case "and", "or", "not", "contains":
                throw SegmentRuleError(column: token.column, message: "expected a field or value, found '\(token.text)'")
            default:
                guard knownFields.contains(token.text) else {
                    throw SegmentRuleError(column: token.column, message: "unknown field '\(token.text)'; single-view fields are: "
                        + knownFields.sorted().joined(separator: ", "))
                }
                return .field(token.text)
            }
        default:
            throw SegmentRuleError(column: token.column, message: "expected a field or value, found '\(token.text)'")
        }
    }
}
