package import CofferPolicy
package import CofferStore
import Foundation
import GRDB

/// One person's single view, computed straight from the log with nothing
/// transformed (for the person themself: `request export`), with the segments
/// whose rules they match. Needs the master key (owner, compliance).
package struct PersonProfile: Sendable {
    /// The surviving subject id.
    package var subject: SubjectID
    /// Single-view columns (then one consent column per consent-based purpose) and their values.
    package var columns: [String]
    package var row: [Cell]
    /// The segments whose rule the row matches, with the rule.
    package var segments: [SegmentDefinition]

    /// The value `customer_id` is computed from (before any policy transform).
    package var customerKey: String { row[0].description }

    /// The column → value pairs, nulls left out.
    package var fields: [(String, Cell)] {
        zip(columns, row).filter { $0.1 != .null }.map { ($0.0, $0.1) }
    }

    /// Folds the events of `subject` and every subject merged into it, in log
    /// order (as `project build` does).
    static func aggregate(of subject: SubjectID, graph: IdentityGraph, rules: FoldRules = .plain,
                          in db: Database) throws -> CustomerAggregate {
        var aggregate = CustomerAggregate()
        for event in try graph.events(ofPerson: subject, kinds: ProjectionBuilder.kinds, in: db) {
            if let value = PayloadFields.scan(event.payload) { aggregate.fold(kind: event.kind, payload: value, rules: rules) }
        }
        return aggregate
    }

    /// Every audit target that stands for the person `subject` (with those
    /// merged into it): their random subject ids, and the `customer:` target of
    /// their row in each projection file. What `audit log --subject` and the
    /// export's access log look for.
    package static func auditTargets(of subject: SubjectID, vault: Vault, policy: Policy) throws -> Set<String> {
        let graph = try vault.identityGraph()
        let (family, aggregate) = try vault.database.read { db in
            (try graph.mergedSubjects(of: subject, in: db), try Self.aggregate(of: subject, graph: graph, in: db))
        }
        return try auditTargets(family: family, customerKey: SingleView.customerKey(aggregate, subject: subject), vault: vault, policy: policy)
    }

    /// The same, for a caller that already has the person's subjects and customer key (an export).
    package static func auditTargets(family: [SubjectID], customerKey: String, vault: Vault, policy: Policy) throws -> Set<String> {
        var targets = Set(family.map(Vault.auditTarget))
        let ledger = try vault.auditLedger()
        for file in try ProjectionPurge.customerIDs(of: customerKey, vault: vault, policy: policy) {
            if let id = file.id { targets.insert(try ledger.customerTarget(purpose: file.purpose, customerID: id)) }
        }
        return targets
    }

    /// The profile of `subject` at `now`, with consent as the ledger has it then.
    package static func load(_ subject: SubjectID, vault: Vault, policy: Policy, segments: [SegmentDefinition],
                            now: Int64 = EventLog.now()) throws -> PersonProfile {
        let graph = try vault.identityGraph()
        let ledger = try vault.consentLedger()
        let consentPurposes = policy.purposes.filter(\.needsConsent)
        let (aggregate, consents) = try vault.database.read { db -> (CustomerAggregate, [Bool]) in
            let history = try ledger.history(of: subject, in: db)
            return (try Self.aggregate(of: subject, graph: graph, rules: FoldRules(policy: policy, now: now), in: db),
                    consentPurposes.map { ConsentState.at(now, purpose: $0.name, in: history).allows })
        }
        let columns = SingleViewColumn.names + consentPurposes.map { SingleView.consentColumn($0.name) }
        let row = SingleView.row(aggregate, subject: subject, now: now, consents: consents)
        let index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        let month = ProjectionBuilder.month(of: now)
        let matched = segments.filter { $0.rule.bound(to: index, currentMonth: month).matches(row) }
        return PersonProfile(subject: subject, columns: columns, row: row, segments: matched)
    }
}
