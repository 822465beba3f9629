import CofferCrypto
/// The rule language of segments: comparisons of single-view fields with
/// numbers, quoted strings, `true`/`false` or `current_month`, combined with
/// `and`, `or`, `not` and parentheses.
///
///     shop_times >= 10 and avg_spend > 15
///     birthday_month == current_month
///     recency > 90 and shop_times >= 3
///     channels contains 'app' or not (email_open_rate < 0.5)
package indirect enum SegmentRule: Sendable, Equatable {
    case comparison(Operand, Comparison, Operand)
    case and(SegmentRule, SegmentRule)
    case or(SegmentRule, SegmentRule)
    case not(SegmentRule)

    package enum Operand: Sendable, Equatable {
        case field(String)
        case number(Double)
        case text(String)
        case currentMonth
    }

    package enum Comparison: String, Sendable, CaseIterable {
        case equal = "==", notEqual = "!=", greaterOrEqual = ">=", lessOrEqual = "<=", greater = ">", less = "<"
        /// `channels contains 'app'`: one of the comma-separated items equals the value.
        case contains
    }

    /// Every field the rule reads.
    package var fields: Set<String> {
        switch self {
        case let .comparison(left, _, right):
            return Set([left, right].compactMap { if case let .field(name) = $0 { return name } else { return nil } })
        case let .and(a, b), let .or(a, b): return a.fields.union(b.fields)
        case let .not(rule): return rule.fields
        }
    }

    /// Whether a row (raw single-view values by field name) matches; a comparison with a missing value is false.
    package func matches(_ row: [String: Cell], currentMonth: Int) -> Bool {
        let names = Array(row.keys)
        let columns = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        return bound(to: columns, currentMonth: currentMonth).matches(names.map { row[$0]! })
    }

    /// The rule bound to a row layout (field name → position) and a month, for
    /// evaluating many rows: names are looked up and literals converted once,
    /// not for every row of every file.
    package func bound(to columns: [String: Int], currentMonth: Int) -> BoundSegmentRule {
        func value(_ operand: Operand) -> BoundSegmentRule.Value {
            switch operand {
            case let .field(name): return columns[name].map(BoundSegmentRule.Value.column) ?? .constant(.null)
            case let .number(number): return .constant(.real(number))
            case let .text(text): return .constant(.text(text))
            case .currentMonth: return .constant(.integer(currentMonth))
            }
        }
        func node(_ rule: SegmentRule) -> BoundSegmentRule.Node {
            switch rule {
            case let .comparison(left, op, right): return .comparison(value(left), op, value(right))
            case let .and(a, b): return .and(node(a), node(b))
            case let .or(a, b): return .or(node(a), node(b))
            case let .not(rule): return .not(node(rule))
            }
        }
        return BoundSegmentRule(root: node(self))
    }
}

/// A segment rule bound to a row layout (see `SegmentRule.bound`).
///
/// Semantics: a comparison with a missing value is false; `contains` looks for
/// an equal item in a comma-separated list; two values that both read as
/// numbers compare numerically, anything else compares as text by code points.
package struct BoundSegmentRule: Sendable {
    indirect enum Node: Sendable {
        case comparison(Value, SegmentRule.Comparison, Value)
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
    }

    enum Value: Sendable {
        case column(Int)
        /// A literal, with its number and text worked out once.
        case constant(Cell, number: Double?, text: String)

        static func constant(_ cell: Cell) -> Value { .constant(cell, number: cell.double, text: cell.description) }

        func cell(in row: UnsafeBufferPointer<Cell>) -> Cell {
            switch self {
            case let .column(index): return index < row.count ? row[index] : .null
            case let .constant(cell, _, _): return cell
            }
        }

        func number(of cell: Cell) -> Double? {
            if case let .constant(_, number, _) = self { return number }
            return cell.double
        }

        func text(of cell: Cell) -> String {
            if case let .constant(_, _, text) = self { return text }
            return cell.description
        }
    }

    let root: Node

    /// Whether `row` (raw single-view values in the bound layout) matches.
    package func matches(_ row: [Cell]) -> Bool {
        row.withUnsafeBufferPointer { matches($0) }
    }

    /// Whether the row where it lies matches (a build reads rows shared by the
    /// threads writing files: no copy of the row, no reference counting on it).
    package func matches(_ row: UnsafeBufferPointer<Cell>) -> Bool {
        Self.evaluate(root, row)
    }

    private static func evaluate(_ node: Node, _ row: UnsafeBufferPointer<Cell>) -> Bool {
        switch node {
        case let .and(a, b): return evaluate(a, row) && evaluate(b, row)
        case let .or(a, b): return evaluate(a, row) || evaluate(b, row)
        case let .not(inner): return !evaluate(inner, row)
        case let .comparison(left, op, right):
            let a = left.cell(in: row), b = right.cell(in: row)
            if case .null = a { return false }
            if case .null = b { return false }
            if op == .contains { return list(left.text(of: a), contains: right.text(of: b)) }
            if let x = left.number(of: a), let y = right.number(of: b) { return op.holds(x, y) }
            return op.holds(left.text(of: a), right.text(of: b))
        }
    }

    /// Whether a comma-separated list has an item equal to `item` (empty items never match).
    static func list(_ list: String, contains item: String) -> Bool {
        guard !item.isEmpty else { return false }
        var start = list.startIndex
        while true {
            let end = list[start...].firstIndex(of: ",") ?? list.endIndex
            if list[start..<end] == item { return true }
            guard end < list.endIndex else { return false }
            start = list.index(after: end)
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
package struct SegmentRuleError: CofferError, Equatable {
    package var column: Int
    package var message: String
    package var description: String { "column \(column): \(message)" }
}

extension SegmentRule {
    /// Parses `text`; `knownFields` are the names a field operand may take.
    package static func parse(_ text: String, knownFields: Set<String>) throws -> SegmentRule {
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
    /// Nesting (`not`, parentheses) and size bounds: the parser and the evaluator
    /// recurse, and a rule from a file must not be able to overflow the stack
    /// (the fuzzer found that 10,000 opening brackets did).
    static let maxDepth = 64
    static let maxComparisons = 256

    let tokens: [RuleToken]
    let knownFields: Set<String>
    let length: Int
    var index = 0
    var depth = 0
    var comparisons = 0

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
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw SegmentRuleError(column: peek?.column ?? end, message: "the rule nests 'not' and parentheses more than \(Self.maxDepth) deep")
        }
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
        comparisons += 1
        guard comparisons <= Self.maxComparisons else {
            throw SegmentRuleError(column: peek?.column ?? end, message: "the rule has more than \(Self.maxComparisons) comparisons")
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
