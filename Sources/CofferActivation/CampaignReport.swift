package import CofferAnalysis
import CofferFormats
import CofferProjection
package import CofferPolicy
package import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// `campaign report`: reach and uplift of a campaign, from its people's events.
    package static let campaignReport = AuditAction(rawValue: "campaign-report")
}

/// What a campaign reached and what it changed: per group (each variant and the
/// holdout), messages sent, delivered, opened and clicked (email events carrying
/// the campaign in `properties.campaign` or Segment's UTM `context.campaign.name`), conversions (purchases in the window after the start) and
/// revenue per member; and each variant's uplift over the holdout with 95 %
/// intervals. A group of fewer people than the minimum group size shows its
/// size as "< k" and nothing else.
package struct CampaignReport: Sendable {
    package struct Row: Sendable {
        package var group: String
        package var members: Int
        package var sent: Int
        package var delivered: Int
        package var opened: Int
        package var clicked: Int
        package var conversions: Int
        package var revenue: Double
        /// Below the minimum group size: only that is shown.
        package var suppressed: Bool
        package var conversionRate: Double { Double(conversions) / Double(max(members, 1)) }
        package var revenuePerMember: Double { revenue / Double(max(members, 1)) }
    }

    package var campaign: Campaign
    package var windowStart: Int64
    package var windowEnd: Int64
    package var rows: [Row]
    /// Each variant against the holdout (nil where a group is too small, or there is no holdout).
    package var uplift: [(variant: String, uplift: Uplift?)]
    package var minimumGroupSize: Int
}

extension CampaignDesk {
    /// The campaign's reach and uplift over `window` from its start (its `--starts`, but not before its
    /// creation), up to `now` at most. Owner: it reads the people's events.
    package func report(_ name: String, window: PolicyDuration = PolicyDuration("14d")!, now: Int64 = EventLog.now()) throws -> CampaignReport {
        try vault.require(.buildProjections, for: .campaignReport, purpose: policy.activation.purpose, target: "campaign:\(name)")
        let (campaign, _) = try show(name)
        let assignments = try assignments(of: name)
        // Nothing before the assignment can be the campaign's doing: a start given earlier counts from the creation.
        let start = max(campaign.starts ?? campaign.createdAt, campaign.createdAt)
        let end = min(window.adding(to: start), now)
        // Purchase and email events are named as the single view reads them (the policy's purchase events, Segment's email spec).
        let events = TrackEvents(policy.analysis)
        let graph = try vault.identityGraph()
        var outcomes: [String: (members: Int, sent: Int, delivered: Int, opened: Int, clicked: Int, conversions: Int, revenue: [Double])] = [:]
        try vault.database.read { db in
            var sent: Set<SubjectID> = []
            for id in try Data.fetchAll(db, sql: "SELECT subject_id FROM activation_sends WHERE export_id LIKE ?", arguments: ["CMP-\(name)-%"]) {
                sent.insert(try SubjectID(bytes: Array(id)))
            }
            for (subject, group) in assignments {
                var row = outcomes[group] ?? (0, 0, 0, 0, 0, 0, [])
                row.members += 1
                if sent.contains(subject) { row.sent += 1 }
                var delivered = false, opened = false, clicked = false, revenue = 0.0, converted = false
                for event in try graph.events(ofPerson: subject, kinds: [.track], in: db) {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any],
                          let meaning = (object["event"] as? String).flatMap(events.meaning),
                          let time = (object["timestamp"] as? String).flatMap({ Timestamp.parse($0) }) else { continue }
                    let properties = object["properties"] as? [String: Any] ?? [:]
                    if meaning == .order, time >= start, time < end {
                        let amount = ["revenue", "spending", "total"].lazy.compactMap { (properties[$0] as? NSNumber)?.doubleValue }.first ?? 0
                        if amount >= 0 {
                            converted = true
                            revenue += amount
                        }
                    }
                    // The campaign an email event belongs to: its `campaign` property, or Segment's UTM context.
                    let utm = ((object["context"] as? [String: Any])?["campaign"] as? [String: Any])?["name"] as? String
                    guard properties["campaign"] as? String == name || utm == name, time >= start else { continue }
                    switch meaning {
                    case .emailDelivered: delivered = true
                    case .emailOpened: opened = true
                    case .emailClicked: clicked = true
                    default: break
                    }
                }
                if delivered { row.delivered += 1 }
                if opened { row.opened += 1 }
                if clicked { row.clicked += 1 }
                if converted {
                    row.conversions += 1
                    row.revenue.append(revenue)
                }
                outcomes[group] = row
            }
        }
        let minimum = policy.minimumGroupSize
        let order = campaign.variants.map(\.name) + [Campaign.holdoutGroup]
        let rows = order.compactMap { group -> CampaignReport.Row? in
            guard let outcome = outcomes[group] else { return nil }
            return CampaignReport.Row(group: group, members: outcome.members, sent: outcome.sent, delivered: outcome.delivered,
                                      opened: outcome.opened, clicked: outcome.clicked, conversions: outcome.conversions,
                                      revenue: outcome.revenue.reduce(0, +), suppressed: outcome.members < minimum)
        }
        let holdout = outcomes[Campaign.holdoutGroup]
        let uplift = campaign.variants.map { variant -> (variant: String, uplift: Uplift?) in
            guard let treated = outcomes[variant.name], let holdout, treated.members >= minimum, holdout.members >= minimum else {
                return (variant.name, nil)
            }
            return (variant.name, Uplift(treated: .init(members: treated.members, conversions: treated.conversions, revenue: treated.revenue),
                                         holdout: .init(members: holdout.members, conversions: holdout.conversions, revenue: holdout.revenue)))
        }
        try vault.audit(.campaignReport, purpose: policy.activation.purpose, target: "campaign:\(name)", rows: assignments.count,
                        reason: "window \(Timestamp.format(start)) to \(Timestamp.format(end))")
        return CampaignReport(campaign: campaign, windowStart: start, windowEnd: end, rows: rows, uplift: uplift, minimumGroupSize: minimum)
    }
}
