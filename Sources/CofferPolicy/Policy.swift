import Foundation
public import CofferStore

/// A loaded, checked policy: what the vault may do with which data, for whom
/// and why. Built by `PolicyLoader` from `policies/*.yaml`.
public struct Policy: Sendable {
    /// The file it was loaded from and the SHA-256 of its bytes (hex), for the audit trail.
    public var file: String
    public var sha256: String
    /// The policy's own name and version (`name:`, `version:`).
    public var name: String
    public var version: String
    /// Purposes in file order.
    public var purposes: [Purpose]
    /// Field name → the classes it belongs to.
    public var fieldClasses: [String: Set<FieldClass>]
    /// How `generalise` and `truncate` act on each field.
    public var fieldRules: [String: FieldRule]
    /// Per role: what each purpose gives each field class.
    public var access: [Role: RoleAccess]
    /// How long events of each kind are kept (`default` for kinds not listed).
    public var retention: [String: PolicyDuration]
    /// Aggregates over fewer subjects than this are shown as `< k`.
    public var minimumGroupSize: Int
    /// Extra identifiers to resolve identities by, beyond email, phone, userId, anonymousId, loyalty id.
    public var identifiers: [DeclaredIdentifier]
    /// After an erasure, drop records that carry one of the erased identifiers
    /// (`erasure: suppress_returning_identifiers: true`) instead of starting a
    /// new subject for them.
    public var suppressReturningIdentifiers = false
    /// How long a delete owed to a published copy (`coffer publish`) may stay unverified before
    /// `publish status` warns (`erasure: remote_delete_deadline:`, default 1d).
    public var remoteDeleteDeadline = Policy.defaultRemoteDeleteDeadline
    public static let defaultRemoteDeleteDeadline = PolicyDuration("1d")!
    /// The controller and its DPO (`controller:`), for the Art. 30 record.
    public var controller = Controller()
    /// Categories of data subjects (`data_subjects:`), for the Art. 30 record.
    public var dataSubjects: [String] = []
    /// Ranges that numeric event fields must fall in at ingest (`limits:`),
    /// by field path (`traits.age`); they replace or add to the built-in ones.
    public var numericLimits: [String: ClosedRange<Double>] = [:]
    /// Purchase and refund events, the CLV discount rate and the recommendations' purpose (`analysis:`).
    public var analysis = AnalysisSettings()
    /// Audiences and destinations (`activation:`).
    public var activation = ActivationSettings()

    /// The identifier types the policy adds (`crm`, …).
    public var declaredIdentifierTypes: [IdentifierType] { identifiers.compactMap { IdentifierType(rawValue: $0.type) } }

    /// The purpose named `name`.
    public func purpose(_ name: String) -> Purpose? { purposes.first { $0.name == name } }

    /// Whether `role`'s projection of `purpose` may hold `recommended_items`: the
    /// recommendations purpose's files, and (as a merge field of personalised messages)
    /// the activation purpose's file of a role that may activate. The values exist only for
    /// people who consent to the recommendations purpose; an export re-checks that consent.
    public func carriesRecommendations(purpose: String, role: Role) -> Bool {
        guard let recommendations = analysis.recommendationsPurpose else { return false }
        return purpose == recommendations || (purpose == activation.purpose && role.permissions.contains(.activate))
    }

    /// Purposes whose consent category (in Segment's `categoryPreferences`) is `category`.
    public func purposes(forConsentCategory category: String) -> [Purpose] {
        purposes.filter { $0.consentCategories.contains(category) }
    }

    /// The classes of a field as an event names it: `firstName`, `first_name`
    /// and `FirstName` are the same field. Empty when the policy does not classify it.
    public func classes(ofEventField name: String) -> Set<FieldClass> {
        fieldClasses[name] ?? fieldClasses[Self.snakeCase(name)] ?? []
    }

    /// `firstName` → `first_name`, `loyaltyID` → `loyalty_id`, `Cart-Size` → `cart_size`.
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        var previousLower = false
        for character in name {
            if character == "-" || character == " " || character == "." {
                out.append("_")
                previousLower = false
            } else if character.isUppercase {
                if previousLower { out.append("_") }
                out.append(contentsOf: character.lowercased())
                previousLower = false
            } else {
                out.append(character)
                previousLower = character.isLowercase || character.isNumber
            }
        }
        return out
    }

    /// Every field the policy classifies, sorted.
    public var classifiedFields: [String] { fieldClasses.keys.sorted() }

    /// How long events of `kind` are kept, if the policy says.
    public func retention(for kind: EventKind) -> PolicyDuration? {
        retention[kind.rawValue] ?? retention["default"]
    }

    /// How long rejected input stays in the quarantine (`retention: quarantine:`); nil: no limit.
    public var quarantineRetention: PolicyDuration? { retention["quarantine"] }
}

/// Why data may be processed for a purpose (GDPR Art. 6(1)).
public enum LawfulBasis: String, CaseIterable, Sendable {
    case consent
    case contract
    case legalObligation = "legal_obligation"
    case vitalInterests = "vital_interests"
    case publicTask = "public_task"
    case legitimateInterests = "legitimate_interests"
}

/// A purpose data is processed for.
public struct Purpose: Sendable, Equatable {
    public var name: String
    public var description: String
    public var lawfulBasis: LawfulBasis
    /// Names in Segment's `context.consent.categoryPreferences` that decide this purpose.
    public var consentCategories: [String]
    /// How long a grant stays valid, if it lapses.
    public var consentValidFor: PolicyDuration?
    /// Who receives data for this purpose outside the controller (Art. 30(1)(d)):
    /// "email service provider", "advertising platforms". Empty: nobody.
    public var recipients: [String] = []
    /// Transfers to third countries and their safeguards (Art. 30(1)(e)):
    /// "US (standard contractual clauses)". Empty: none.
    public var transfers: [String] = []

    /// Whether processing needs the subject's recorded consent.
    public var needsConsent: Bool { lawfulBasis == .consent }
}

/// Who decides on the processing, and who answers for data protection.
public struct Controller: Sendable, Equatable {
    public var name: String?
    public var contact: String?
    public var dpoName: String?
    public var dpoContact: String?
    /// A one-person business may let the owner act as DPO (handle data-subject
    /// requests); every such request is audited as the owner acting as DPO.
    public var ownerActsAsDPO = false

    public init() {}
}

/// The kinds of data, by how much they say about a person.
public enum FieldClass: String, CaseIterable, Sendable, Comparable {
    /// Identifies a person on its own (email, phone, name).
    case directIdentifier = "direct_identifier"
    /// Identifies in combination (age, birthday, gender, postcode).
    case quasiIdentifier = "quasi_identifier"
    /// Special-category or otherwise sensitive data.
    case sensitive
    /// What a person did (purchases, visits, clicks).
    case behavioural

    public static func < (lhs: FieldClass, rhs: FieldClass) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a field becomes on its way to a role, ordered from most to least revealing.
public enum Transform: String, CaseIterable, Sendable, Comparable {
    /// The value as it is.
    case allow
    /// The first N characters (`truncate: N` in `field_rules`).
    case truncate
    /// A coarser value (`generalise:` in `field_rules`, e.g. age → 10-year band).
    case generalise
    /// A keyed token: joinable, not readable.
    case tokenise
    /// The field is present but its value is replaced.
    case redact
    /// The field is withheld.
    case deny

    /// How much it withholds; where rules meet, the higher one wins.
    public var strictness: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Transform, rhs: Transform) -> Bool { lhs.strictness < rhs.strictness }
}

/// How `generalise` coarsens a field.
public enum Generalisation: Sendable, Equatable, CustomStringConvertible {
    /// Numbers to bands of `width` (`band 10`: 37 → "30-39").
    case band(Int)
    /// Dates to their month (`1990-05-17` → "05").
    case month
    /// Dates to their year.
    case year
    /// Date-times to their date.
    case date
    /// The value is already coarse (e.g. gender).
    case keep
    /// Date-times to the Monday of their ISO week (`2026-03-05T…` → "2026-03-02").
    case week
    /// Numbers rounded to the nearest multiple of `step` (`round 10`: 17.9 → 20).
    case round(Double)

    /// Whether this rule coarsens a time or an amount: the columns that could
    /// link two purposes' projections row to row, so rows whose generalised
    /// values are shared by fewer people than the minimum group size lose them.
    public var isLinkageGeneralisation: Bool {
        switch self {
        case .week, .date, .round: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .band(width): return "band \(width)"
        case .month: return "month"
        case .year: return "year"
        case .date: return "date"
        case .keep: return "keep"
        case .week: return "week"
        case let .round(step): return "round \(step == step.rounded() ? String(Int(step)) : String(step))"
        }
    }
}

/// The parameters of `generalise` and `truncate` for one field.
public struct FieldRule: Sendable, Equatable {
    public var generalise: Generalisation?
    public var truncate: Int?
}

/// What one role gets.
public struct RoleAccess: Sendable, Equatable {
    /// Purpose → the transform each field class gets. A purpose not listed is denied.
    public var purposes: [String: [FieldClass: Transform]]
    /// Fields this role never receives, whatever the class rules say.
    public var denyFields: Set<String>
}

/// A span of time in a policy: `30d`, `6w`, `13m` (months), `2y`.
public struct PolicyDuration: Sendable, Equatable, CustomStringConvertible {
    public enum Unit: Character, Sendable { case days = "d", weeks = "w", months = "m", years = "y" }
    public var amount: Int
    public var unit: Unit

    /// Parses `30d` style text; nil when it is not one.
    public init?(_ text: String) {
        guard let last = text.last, let unit = Unit(rawValue: last), let amount = Int(text.dropLast()), amount > 0 else { return nil }
        self.amount = amount
        self.unit = unit
    }

    /// Approximate length in milliseconds (a month is 30.44 days, a year 365.25).
    public var milliseconds: Int64 {
        let day: Double = 86_400_000
        switch unit {
        case .days: return Int64(Double(amount) * day)
        case .weeks: return Int64(Double(amount) * 7 * day)
        case .months: return Int64(Double(amount) * 30.436875 * day)
        case .years: return Int64(Double(amount) * 365.2425 * day)
        }
    }

    public var description: String { "\(amount)\(unit.rawValue)" }

    /// `millis` minus this duration, counted as `adding(to:)` counts it.
    public func subtracting(from millis: Int64) -> Int64 {
        PolicyDuration(amount: -amount, unit: unit).adding(to: millis)
    }

    init(amount: Int, unit: Unit) {
        self.amount = amount
        self.unit = unit
    }

    /// `millis` plus this duration, counting months and years on the calendar
    /// (UTC), as GDPR's deadlines and a "valid 24 months" consent are counted:
    /// 31 January plus one month is 28 (or 29) February.
    public func adding(to millis: Int64) -> Int64 {
        let months: Int
        switch unit {
        case .days, .weeks: return millis + milliseconds
        case .months: months = amount
        case .years: months = amount * 12
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        guard let later = calendar.date(byAdding: .month, value: months, to: date) else { return millis + milliseconds }
        return Int64((later.timeIntervalSince1970 * 1000).rounded())
    }
}

/// An identifier the policy adds to identity resolution (e.g. a CRM id in `traits.crm_id`).
public struct DeclaredIdentifier: Sendable, Equatable {
    /// Where it is in an event: `traits.X`, `context.traits.X` or `properties.X`.
    public var path: [String]
    /// Its identifier type (used in `TYPE:VALUE` on the command line).
    public var type: String
}
