/// What every Coffer error tells its user: one message they can act on, the
/// remedy within it, and the exit status a command ends with. Each module's
/// error type adopts it, so the command line (and the collector and the
/// dashboard) turn any of them into output with one `catch`.
public protocol CofferError: Error, CustomStringConvertible {
    /// One line for the user: what went wrong and, where there is one, what to do.
    var message: String { get }
    /// What the user can do about it, on its own (also the end of `message`);
    /// nil when the message itself says what to fix.
    var remedy: String? { get }
    /// The process exit status: 1 for an error; 2 when a verification found damage.
    var exitStatus: Int32 { get }
}

extension CofferError {
    public var message: String { description }
    public var remedy: String? { nil }
    public var exitStatus: Int32 { 1 }

    /// The one line of an error: what went wrong, then what to do about it.
    public static func line(_ problem: String, remedy: String?) -> String {
        remedy.map { "\(problem); \($0)" } ?? problem
    }
}
