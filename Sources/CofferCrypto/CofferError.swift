/// What every Coffer error tells its user: one message they can act on, and
/// the exit status a command ends with. Each module's error type adopts it, so
/// the command line (and later the collector and the dashboard) turn any of
/// them into output with one `catch`.
public protocol CofferError: Error, CustomStringConvertible {
    /// One line for the user: what went wrong and, where there is one, what to do.
    var message: String { get }
    /// The process exit status: 1 for an error; 2 when a verification found damage.
    var exitStatus: Int32 { get }
}

extension CofferError {
    public var message: String { description }
    public var exitStatus: Int32 { 1 }
}
