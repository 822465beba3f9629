/// Something an actor may do with a vault. Each role is granted a fixed set;
/// the keys a role's keyslot holds back the permissions up (an analyst is
/// refused `readEvents` by this table *and* cannot decrypt an event anyway).
public enum Permission: String, CaseIterable, Sendable {
    /// Import events (`ingest`, `demo`, `quarantine retry`).
    case ingest
    /// Read a subject's identifiers, events and quarantined input (`subject show`, `quarantine list`).
    case readSubjects = "read-subjects"
    /// Record consent given or withdrawn (`consent grant|revoke|import`).
    case manageConsent = "manage-consent"
    /// Read consent history (`consent show`).
    case readConsent = "read-consent"
    /// Add and remove actors (`actor add|remove`).
    case manageActors = "manage-actors"
    /// See who the actors are (`actor list`).
    case listActors = "list-actors"
    /// Build the per-purpose projections (`project build`).
    case buildProjections = "build-projections"
    /// Read projections: single views, segments, analyst SQL.
    case readProjections = "read-projections"
    /// Export an activation audience.
    case activate
    /// Read the audit trail (`audit log`).
    case readAudit = "read-audit"
    /// Handle data-subject requests (`request …`).
    case handleRequests = "handle-requests"
    /// Add, list and revoke the sources that send events live (`source …`).
    case manageSources = "manage-sources"
    /// Publish a purpose's projection to a remote store and send the deletes it is owed (`publish …`).
    case publish

    /// The roles granted this permission.
    public var roles: [Role] { Role.allCases.filter { $0.permissions.contains(self) } }
}

extension Role {
    /// What the role may do.
    public var permissions: Set<Permission> {
        switch self {
        case .owner:
            return [.ingest, .readSubjects, .manageConsent, .readConsent, .manageActors, .listActors,
                    .buildProjections, .readProjections, .readAudit, .manageSources, .publish]
        case .compliance:
            // Projections too: a DPO checks that a rectification or a restriction took effect.
            return [.readSubjects, .manageConsent, .readConsent, .listActors, .readAudit, .handleRequests, .readProjections]
        case .analyst:
            return [.readProjections]
        case .marketing:
            return [.readProjections, .activate]
        case .auditor:
            return [.readAudit, .listActors]
        }
    }
}
