/// Where data may leave the vault for a campaign, and on what terms
/// (`activation:` in the policy): the purpose audiences serve, the consent each
/// channel needs on top of it, the cap on messages per person, and the
/// destinations with the fields each may receive.
public struct ActivationSettings: Sendable, Equatable {
    /// The channels a message goes out on.
    public enum Channel: String, CaseIterable, Sendable {
        case email, sms, push, ads

        /// Whether an export on it messages people (an ads audience does not: it counts against no cap).
        public var isMessage: Bool { self != .ads }
    }

    /// The file a destination takes.
    public enum Format: String, CaseIterable, Sendable {
        /// Mailchimp/Brevo import: Email Address, First Name, Last Name, Tags and merge fields.
        case emailCSV = "email-csv"
        /// One E.164 number a line.
        case sms
        /// One device token a line.
        case push
        /// SHA-256 hex of normalised email and phone (Google Customer Match, Meta Custom Audiences).
        case ads
        /// JSON members, for a signed webhook.
        case json

        /// The fields a file of this format cannot do without.
        public var requiredFields: [String] {
            switch self {
            case .emailCSV: return ["email"]
            case .sms: return ["phone"]
            case .push: return ["device_token"]
            case .ads, .json: return []
            }
        }
    }

    /// A receiving tool: its channel, its format and the single-view fields it may receive.
    public struct Destination: Sendable, Equatable {
        public var name: String
        public var channel: Channel
        public var format: Format
        public var fields: [String]
        /// Where the audience is posted as signed JSON (format `json`), if anywhere.
        public var url: String?
        /// The environment variable that holds the webhook's signing secret.
        public var secretEnvironment: String?
    }

    /// The purpose audiences are exported for (consent to it is checked for every member).
    public var purpose = "marketing"
    /// Per channel, the consent-based purpose whose consent the channel needs too (the opt-in).
    public var channelConsents: [Channel: String] = [:]
    /// At most this many messages (email, SMS, push) per person in any `capWindow`, across all exports and campaigns.
    public var frequencyCap: Int?
    public var capWindow: PolicyDuration?
    public var destinations: [Destination] = []

    public init() {}

    /// The destination named `name`.
    public func destination(_ name: String) -> Destination? { destinations.first { $0.name == name } }
}
