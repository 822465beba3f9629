package import CofferPolicy
package import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// People taken out of built projections at once (a consent withdrawal, an objection).
    package static let projectionPurge = AuditAction(rawValue: "projection-purge")
}

/// Withdrawing consent, or objecting (GDPR Art. 21), takes effect at once: the
/// person is taken out of the projection files of that purpose already built,
/// as a restriction does, instead of at the next `project build` (which leaves
/// them out too). Called after every command or import that records such a
/// decision.
package enum ConsentEffects {
    /// Purges the people of `changes` whose latest decision for the purpose is
    /// still a withdrawal or an objection (a grant recorded after it in the same
    /// import keeps them). One pass over each file of each purpose, audited.
    /// - Returns: what happened to each file touched.
    @discardableResult
    package static func apply(_ changes: [ConsentChange], vault: Vault, policy: Policy) throws -> [ProjectionPurge.Outcome] {
        let built = Set(ProjectionPurge.files(vault.layout).map(\.purpose))
        // The recommendations purpose reaches the activation purpose's files too (recommended_items).
        let relevant = changes.filter {
            built.contains($0.purpose) || ($0.purpose == policy.analysis.recommendationsPurpose && built.contains(policy.activation.purpose))
        }
        guard !relevant.isEmpty else { return [] }
        let graph = try vault.identityGraph()
        let ledger = try vault.consentLedger()
        var keys: [String: Set<String>] = [:]
        try vault.database.read { db in
            for change in relevant {
                // The person as they are now: a merge since the decision folds them into a survivor.
                guard let survivor = try graph.survivor(of: change.subject, in: db) else { continue }
                let status = try ledger.current(of: survivor, in: db)[change.purpose]
                guard status == .withdrawn || status == .objected else { continue }
                let aggregate = try PersonProfile.aggregate(of: survivor, graph: graph, in: db)
                keys[change.purpose, default: []].insert(SingleView.customerKey(aggregate, subject: survivor))
            }
        }
        var outcomes: [ProjectionPurge.Outcome] = []
        let head = try vault.logHead()
        for (purpose, people) in keys.sorted(by: { $0.key < $1.key }) {
            let done = try ProjectionPurge.remove(customerKeys: people.sorted(), from: [purpose], vault: vault, policy: policy,
                                                  reconciled: head)
            try vault.audit(.projectionPurge, purpose: purpose, rows: done.map(\.rowsRemoved).reduce(0, +),
                            reason: "\(people.count) person(s) withdrew consent or objected: out of \(done.count) file(s) at once")
            outcomes += done
            // Recommendations also go out as a merge field in the activation purpose's files: taken out there too.
            let activation = policy.activation.purpose
            if purpose == policy.analysis.recommendationsPurpose, purpose != activation, built.contains(activation) {
                let cleared = try ProjectionPurge.removeRecommendations(customerKeys: people.sorted(), from: [activation], vault: vault,
                                                                        policy: policy, reconciled: head)
                try vault.audit(.projectionPurge, purpose: activation, rows: cleared.map(\.rowsRemoved).reduce(0, +),
                                reason: "\(people.count) person(s) withdrew consent to \(purpose) or objected: their recommended_items "
                                    + "out of \(cleared.count) \(activation) file(s) at once")
                outcomes += cleared
            }
        }
        return outcomes
    }
}
