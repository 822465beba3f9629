import CofferCrypto

/// Why an audience cannot leave the vault.
package enum ActivationError: CofferError, Equatable {
    case unknownSegment(String, purpose: String)
    case noProjection(purpose: String)
    case belowMinimum(segment: String, members: Int, minimum: Int)
    case unknownDestination(String, declared: [String])
    case noDestination(channel: String, format: String?, declared: [String])
    case wrongChannel(destination: String, channel: String, expected: String)
    case wrongFormat(destination: String, format: String, expected: String)
    case wrongPurpose(String, expected: String)
    case fieldNotInProjection(String, destination: String)
    case unreadableFile(path: String, reason: String)
    case webhookSecretMissing(String)
    case webhookFailed(url: String, status: Int?, tries: Int, file: String)
    case badCampaign(String)
    case campaignExists(String)
    case unknownCampaign(String)
    case outsideWindow(campaign: String, window: String)

    package var description: String {
        switch self {
        case let .unknownSegment(name, purpose):
            return Self.line("no segment '\(name)' in the \(purpose) projection", remedy: "`coffer segment list` shows the segments; run `coffer project build` after adding one")
        case let .noProjection(purpose):
            return Self.line("there is no \(purpose) projection for this role", remedy: "the owner runs `coffer project build`")
        case let .belowMinimum(segment, members, minimum):
            return Self.line("only \(members) member(s) of '\(segment)' may be contacted now, fewer than the policy's minimum group size \(minimum); nothing was exported",
                             remedy: "choose a wider segment")
        case let .unknownDestination(name, declared):
            return Self.line("no destination '\(name)' in the policy's activation section", remedy: "declared: \(declared.joined(separator: ", "))")
        case let .noDestination(channel, format, declared):
            return Self.line("the policy's activation section has no destination for \(channel)" + (format.map { " in the \($0) format" } ?? ""),
                             remedy: "declared: \(declared.joined(separator: ", "))")
        case let .wrongChannel(destination, channel, expected):
            return Self.line("destination \(destination) is for \(expected), not \(channel)", remedy: "pass --channel \(expected), or another destination")
        case let .wrongFormat(destination, format, expected):
            return Self.line("destination \(destination) takes \(expected), not \(format)", remedy: "leave --format out, or pass --format \(expected)")
        case let .wrongPurpose(purpose, expected):
            return Self.line("audiences are exported for \(expected) under this policy, not \(purpose)", remedy: "pass --purpose \(expected)")
        case let .fieldNotInProjection(field, destination):
            return Self.line("destination \(destination) needs '\(field)', which the policy does not let this role hold", remedy: "change the destination's fields or the role's access")
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(reason)"
        case let .webhookSecretMissing(variable):
            return Self.line("the destination's webhook secret is not set", remedy: "set the environment variable \(variable) to the secret the receiver checks signatures with")
        case let .webhookFailed(url, status, tries, file):
            return Self.line("\(url) did not accept the audience (\(status.map { "HTTP \($0)" } ?? "no answer") after \(tries) tries)",
                             remedy: "the file is at \(file) and the attempt is in the audit trail; run the export again once the receiver is back")
        case let .badCampaign(reason):
            return "campaign: \(reason)"
        case let .campaignExists(name):
            return Self.line("there is already a campaign \(name)", remedy: "choose another name (`coffer campaign list`)")
        case let .unknownCampaign(name):
            return Self.line("no campaign \(name)", remedy: "`coffer campaign list` shows them")
        case let .outsideWindow(campaign, window):
            return Self.line("campaign \(campaign) may send only \(window)", remedy: "export inside its window")
        }
    }
}
