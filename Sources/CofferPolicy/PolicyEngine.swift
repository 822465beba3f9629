public import CofferStore

/// What an actor does with projected data.
public enum Action: String, CaseIterable, Sendable {
    /// Read a single customer view.
    case view
    /// Run analyst SQL on a projection.
    case query
    /// Read segment membership and statistics.
    case segment
    /// Export an activation audience.
    case activate
    /// Export a data subject's data (Art. 15/20).
    case export

    /// The permission the action needs.
    public var permission: Permission {
        switch self {
        case .view, .query, .segment: return .readProjections
        case .activate: return .activate
        case .export: return .handleRequests
        }
    }
}

/// The engine's answer for one field.
public struct Decision: Sendable, Equatable {
    /// What the field becomes; `.deny` withholds it.
    public var transform: Transform
    /// The rule parameters for `generalise` and `truncate`.
    public var rule: FieldRule?
    /// Why, in words an auditor can read.
    public var reason: String

    public var isDenied: Bool { transform == .deny }

    static func deny(_ reason: String) -> Decision { Decision(transform: .deny, rule: nil, reason: reason) }
}

/// Decides, field by field, what a role may see for a purpose. One function
/// (`decide`) makes every decision, and deny always wins: a field is denied
/// when any rule that applies to it denies it, whatever other rules say.
public struct PolicyEngine: Sendable {
    public let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    /// The decision for `field` when `actor` (with `role`) does `action` for `purpose`.
    ///
    /// In order, each of these denies: the role lacks the action's permission;
    /// the purpose is not declared; the role has no access for the purpose;
    /// the role's `deny_fields` lists the field; the field is in no class; any
    /// of the field's classes is denied or not mentioned for the role and
    /// purpose. Otherwise the strictest transform of the field's classes applies.
    public func decide(actor: String, role: Role, purpose: String, action: Action, field: String) -> Decision {
        guard role.permissions.contains(action.permission) else {
            return .deny("role \(role.rawValue) lacks the '\(action.permission.rawValue)' permission needed to \(action.rawValue)")
        }
        guard policy.purpose(purpose) != nil else {
            return .deny("purpose '\(purpose)' is not declared in the policy")
        }
        guard let access = policy.access[role], let transforms = access.purposes[purpose] else {
            return .deny("the policy gives role \(role.rawValue) no access for purpose '\(purpose)'")
        }
        if access.denyFields.contains(field) {
            return .deny("deny_fields of role \(role.rawValue) lists '\(field)'")
        }
        if field == AnalysisSettings.recommendationsField, !policy.carriesRecommendations(purpose: purpose, role: role) {
            return .deny("recommendations are made only for the analysis: recommendations_purpose (\(policy.analysis.recommendationsPurpose ?? "none")), "
                + "and go out as a merge field of the activation purpose's audiences (\(policy.activation.purpose), a role that may activate)")
        }
        guard let classes = policy.fieldClasses[field], !classes.isEmpty else {
            return .deny("'\(field)' is in no field class")
        }
        var strictest: (Transform, FieldClass)?
        for fieldClass in classes.sorted() {
            guard let transform = transforms[fieldClass] else {
                return .deny("the policy does not say what role \(role.rawValue) gets of \(fieldClass.rawValue) for '\(purpose)'")
            }
            if transform == .deny {
                return .deny("\(fieldClass.rawValue) is denied to role \(role.rawValue) for '\(purpose)'")
            }
            if strictest == nil || transform > strictest!.0 { strictest = (transform, fieldClass) }
        }
        let (transform, fieldClass) = strictest!
        let rule = policy.fieldRules[field]
        return Decision(transform: transform, rule: (transform == .generalise || transform == .truncate) ? rule : nil,
                        reason: "\(fieldClass.rawValue) gets \(transform.rawValue) for role \(role.rawValue) and '\(purpose)'")
    }

    /// One row of `policy explain`.
    public struct ExplainRow: Sendable, Equatable {
        public var field: String
        public var classes: [FieldClass]
        public var decision: Decision
    }

    /// The effective access of `role` for `purpose`, one row per classified field (plus deny-listed ones), sorted.
    public func explain(role: Role, purpose: String, action: Action = .query, actor: String = "-") -> [ExplainRow] {
        let fields = Set(policy.fieldClasses.keys).union(policy.access[role]?.denyFields ?? [])
        return fields.sorted().map { field in
            ExplainRow(field: field, classes: (policy.fieldClasses[field] ?? []).sorted(),
                       decision: decide(actor: actor, role: role, purpose: purpose, action: action, field: field))
        }
    }
}
