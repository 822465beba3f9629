import CofferCrypto
import Foundation
import FoundationEssentials

/// Why a data-subject request could not be handled. Messages never carry
/// personal data beyond what the operator typed.
package enum RequestError: CofferError, Equatable {
    /// No subject has the identifier.
    case unknownSubject(String)
    /// No request with that id in the register.
    case unknownRequest(String)
    /// The request is completed or refused; it cannot change.
    case closed(id: String, status: String)
    /// `--request ID` names a request of another type.
    case wrongType(id: String, type: String, expected: String)
    /// `--request ID` names a request about another person.
    case otherSubject(id: String)
    /// The legal deadline can be extended by two further months at most.
    case extensionLimit(id: String)
    /// A reason is required (extension, refusal).
    case reasonRequired
    /// `rectify --set` was malformed or names a field that cannot be rectified this way.
    case invalidCorrection(String)
    /// Lifting a restriction that does not exist.
    case notRestricted(String)
    /// The output file exists (exports never overwrite).
    case outputExists(String)
    /// A bundle or receipt failed verification.
    case verificationFailed(String)
    /// `--request ID` alone names a request registered for nobody: the person must be named.
    case unknownRequestSubject(id: String)
    /// Neither the person nor an open request was named.
    case nothingNamed

    package var description: String { Self.line(parts.problem, remedy: parts.remedy) }

    package var remedy: String? { parts.remedy }

    /// What went wrong, and what to do about it.
    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .unknownSubject(identifier):
            return ("no subject has the identifier \(identifier)", "check its spelling and type (email:…, user:…, phone:…)")
        case let .unknownRequest(id):
            return ("no request \(id) in the register", "`coffer request list` shows them")
        case let .closed(id, status):
            return ("request \(id) is already \(status)", "open a new one with `coffer request open`")
        case let .wrongType(id, type, expected):
            return ("request \(id) is a\(type.first.map { "aeiou".contains($0) } == true ? "n" : "") \(type) request, not \(expected)", nil)
        case let .otherSubject(id):
            return ("request \(id) is about another person than --subject", nil)
        case let .extensionLimit(id):
            return ("request \(id) was already extended by two months, the most GDPR Art. 12(3) allows", nil)
        case .reasonRequired:
            return ("give a reason with --reason; the register keeps it (encrypted) for the data subject and the regulator", nil)
        case let .invalidCorrection(message):
            return (message, nil)
        case let .unknownRequestSubject(id):
            return ("request \(id) was registered without a person", "name them with --subject")
        case .nothingNamed:
            return ("name the person with --subject TYPE:VALUE, or an open request with --request DSR-…", nil)
        case let .notRestricted(identifier):
            return ("\(identifier) is not restricted", "nothing to lift")
        case let .outputExists(path):
            return ("\(path) already exists", "choose another --out (exports never overwrite a file)")
        case let .verificationFailed(message):
            return ("verification FAILED: \(message)", nil)
        }
    }
}

extension RequestError: LocalizedError {
    package var errorDescription: String? { description }
}
