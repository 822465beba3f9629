public import CofferCrypto
/// A policy file that cannot be used, with where and what was expected.
/// A policy error is never turned into a silent default.
public struct PolicyError: CofferError, Equatable {
    /// Said as a policy error, whichever line of which file it names.
    public var message: String { "policy error: \(description)" }

    /// The policy file.
    public var file: String
    /// 1-based line and column, when known.
    public var line: Int?
    public var column: Int?
    /// What is wrong and what was expected.
    public var problem: String

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        problem = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let line, let column, line > 0 { place += ":\(column)" }
        return "\(place): \(problem)"
    }
}
