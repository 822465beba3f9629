public import CofferCrypto
import NIOCore

/// Why `coffer serve` could not run.
public enum CollectorError: CofferError, Equatable {
    /// The listening address could not be bound: in use, not this machine's, or a privileged port.
    case cannotListen(address: String, reason: String)

    public var description: String { Self.line(parts.problem, remedy: parts.remedy) }
    public var remedy: String? { parts.remedy }

    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .cannotListen(address, reason):
            ("cannot listen on \(address): \(reason)",
             "choose another address with --listen HOST:PORT (another `coffer serve` may be running)")
        }
    }

    /// The error for a failure to bind `address`, or nil when `error` is something else.
    static func listening(_ error: any Error, address: String) -> CollectorError? {
        guard let io = error as? IOError else { return nil }
        let reason = switch io.errnoCode {
        case 98: "the address is in use"                       // EADDRINUSE
        case 99: "the address is not one of this machine's"    // EADDRNOTAVAIL
        case 13: "permission denied (a port below 1024 needs privileges)"   // EACCES
        default: "\(io)"
        }
        return .cannotListen(address: address, reason: reason)
    }
}
