import Foundation
import GRDB

/// What the vault holds about one person: their identifiers and how many
/// events of each kind, across every subject merged into them.
public struct SubjectSummary: Sendable {
    /// The surviving subject id.
    public var subject: SubjectID
    /// Subject ids merged into it.
    public var merged: [SubjectID]
    /// Identifiers, decrypted.
    public var identifiers: [Identifier]
    /// Event counts by kind.
    public var eventCounts: [EventKind: Int]
    /// First and last `recorded_at` (ms), if any event.
    public var firstRecorded: Int64?
    public var lastRecorded: Int64?

    public var totalEvents: Int { eventCounts.values.reduce(0, +) }
}

extension Vault {
    /// Looks a person up by one identifier. nil if no subject has it.
    /// Needs the master key (identifiers are decrypted).
    public func subjectSummary(for identifier: Identifier) throws -> SubjectSummary? {
        try require(.readSubjects, for: .subjectShow)
        let graph = try identityGraph()
        let summary = try database.read { db -> SubjectSummary? in
            guard let subject = try graph.subject(for: identifier, in: db) else { return nil }
            let all = try graph.mergedSubjects(of: subject, in: db)
            var counts: [EventKind: Int] = [:]
            var first: Int64?, last: Int64?
            for id in all {
                for row in try SubjectIndex.rows(of: id, columns: "seq, subject_id, kind, recorded_at", in: db) {
                    if let kind = EventKind(rawValue: row["kind"]) { counts[kind, default: 0] += 1 }
                    let at: Int64 = row["recorded_at"]
                    first = min(first ?? at, at)
                    last = max(last ?? at, at)
                }
            }
            return SubjectSummary(subject: subject, merged: Array(all.dropFirst()), identifiers: try graph.identifiers(of: subject, in: db),
                                  eventCounts: counts, firstRecorded: first, lastRecorded: last)
        }
        if let summary {
            try audit(.subjectShow, target: Self.auditTarget(summary.subject), rows: summary.totalEvents)
        } else {
            try audit(.subjectShow, reason: "no subject has the \(identifier.type) identifier")
        }
        return summary
    }
}
