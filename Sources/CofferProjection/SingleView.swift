import CofferStore
import CofferAnalysis
import Foundation
import CofferFormats

/// One value of a single-view column.
package enum Cell: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int)
    case real(Double)
    case text(String)

    package var double: Double? {
        switch self {
        case let .integer(value): return Double(value)
        case let .real(value): return value
        case let .text(text): return Double(text)
        case .null: return nil
        }
    }

    package var description: String {
        switch self {
        case .null: return ""
        case let .integer(value): return String(value)
        case let .real(value): return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case let .text(text): return text
        }
    }
}

/// The single customer view: one row per person, computed from an aggregate at
/// a moment (`now`, for recency and consent).
///
/// Definitions: `shop_times` counts purchases (carts of zero or more; refunds,
/// i.e. negative amounts, are not carts but reduce `total_spend`); `lifetime` is
/// days from first to last purchase; `frequency` is purchases per month over
/// the analysis window, the last 365 days (12 months) up to `now`, the same
/// span for everyone, so one purchase scores below a regular's; `avg_spend` is total_spend /
/// shop_times; `recency` is whole days since the last purchase; open and click
/// rates are per delivered email; `loyalty_points` is the `loyaltyPoints` trait,
/// else one point per whole unit spent for loyalty members.
package enum SingleView {
    static let day = 86_400_000.0
    /// The analysis window of `frequency`: the last 12 months.
    static let analysisWindowMonths = 12

    /// The row of `aggregate` for `subject` at `now`, in the order of
    /// `SingleViewColumn.all`, followed by one 0/1 value per entry of
    /// `consents` (granted or not).
    /// `analysis` holds the person's scores and forecasts (nil: those columns are null).
    static func row(_ aggregate: CustomerAggregate, subject: SubjectID, now: Int64, consents: [Bool],
                    analysis: CustomerAnalysis.Person? = nil) -> [Cell] {
        func text(_ latest: Latest<String>?) -> Cell { latest.map { .text($0.value) } ?? .null }
        func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }
        var row = [Cell]()
        row.reserveCapacity(SingleViewColumn.all.count + consents.count)
        let shops = aggregate.online + aggregate.instore
        let delivered = Double(aggregate.emailsDelivered)
        var first = Cell.null, last = Cell.null, lifetime = Cell.null, frequency = Cell.null, recency = Cell.null
        if let firstShop = aggregate.firstShop, let lastShop = aggregate.lastShop {
            let days = Double(lastShop - firstShop) / day
            first = .text(Timestamp.format(firstShop))
            last = .text(Timestamp.format(lastShop))
            lifetime = real(round2(days))
            frequency = real(round2(Double(aggregate.purchases(inWindowEndingAt: now)) / Double(analysisWindowMonths)))
            recency = whole(Double(now - lastShop) / day)
        }
        let points: Cell = aggregate.loyaltyPoints.map { whole($0.value) }
            ?? (aggregate.loyaltyID != nil ? whole(max(aggregate.totalSpend, 0).rounded(.down)) : .null)
        // The order of `SingleViewColumn.all`.
        row.append(.text(customerKey(aggregate, subject: subject)))
        row.append(text(aggregate.email))
        row.append(text(aggregate.phone))
        row.append(text(aggregate.firstName))
        row.append(text(aggregate.lastName))
        row.append(aggregate.age.map { whole($0.value) } ?? .null)
        row.append(text(aggregate.gender))
        row.append(text(aggregate.birthday))
        row.append(aggregate.birthday.flatMap { birthdayMonth($0.value) }.map { .integer($0) } ?? .null)
        row.append(text(aggregate.postcode))
        row.append(text(aggregate.city))
        row.append(text(aggregate.loyaltyID))
        row.append(text(aggregate.deviceToken))
        row.append(real(round2(aggregate.totalSpend)))
        row.append(first)
        row.append(last)
        row.append(.integer(aggregate.purchases))
        row.append(frequency)
        row.append(lifetime)
        row.append(aggregate.purchases > 0 ? real(round2(aggregate.totalSpend / Double(aggregate.purchases))) : .null)
        row.append(recency)
        row.append(shops > 0 ? .real(round2(Double(aggregate.online) / Double(shops))) : .null)
        row.append(shops > 0 ? .real(round2(Double(aggregate.instore) / Double(shops))) : .null)
        row.append(.text(aggregate.channels.names.joined(separator: ",")))
        row.append(delivered > 0 ? .real(round2(Double(aggregate.emailOpens) / delivered)) : .null)
        row.append(delivered > 0 ? .real(round2(Double(aggregate.emailClicks) / delivered)) : .null)
        row.append(points)
        let engagement = aggregate.engagement
        row.append(.integer(engagement.reviews))
        row.append(engagement.averageRating.map { real(round2($0)) } ?? .null)
        for count in [engagement.likes, engagement.comments, engagement.shares, engagement.pageViews, engagement.appSessions] {
            row.append(.integer(count))
        }
        // Days since, for time-window segments; an event dated after `now` counts as today.
        for time in aggregate.lastSeen.all { row.append(time.map { whole(max(Double(now - $0), 0) / day) } ?? .null) }
        let rfm = analysis?.rfm, value = analysis?.value
        for score in [rfm?.recency, rfm?.frequency, rfm?.monetary] { row.append(score.map { .integer($0) } ?? .null) }
        row.append(rfm.map { .text($0.segment.rawValue) } ?? .null)
        for number in [value?.probabilityAlive, value?.purchases30, value?.purchases90, value?.purchases365, value?.expectedSpend, value?.clv12m] {
            row.append(number.map { real(round2($0)) } ?? .null)
        }
        row.append(value.map { .text($0.churnRisk.rawValue) } ?? .null)
        row.append(analysis?.recommendations.flatMap { $0.isEmpty ? nil : .text($0.joined(separator: ",")) } ?? .null)
        for granted in consents { row.append(.integer(granted ? 1 : 0)) }
        return row
    }

    /// A whole number from a value computed from stored data, without trapping:
    /// null for NaN, infinities (a sum that overflowed) and values beyond
    /// Int's range. Values this large are refused at ingest; a vault from
    /// before that check, or under a policy with wider limits, still builds
    /// and exports.
    static func whole(_ value: Double) -> Cell {
        guard value.isFinite, let whole = Int(exactly: value.rounded(.towardZero)) else { return .null }
        return .integer(whole)
    }

    /// A real from a value computed from stored data: null when not finite
    /// (SQLite and JSON cannot hold it).
    static func real(_ value: Double) -> Cell { value.isFinite ? .real(value) : .null }

    /// What `customer_id` is computed from, before any policy transform: the
    /// person's first user id, else their random subject id.
    static func customerKey(_ aggregate: CustomerAggregate, subject: SubjectID) -> String {
        aggregate.userID?.value ?? subject.hex
    }

    static func birthdayMonth(_ text: String) -> Int? {
        let parts = text.split(separator: "-")
        guard parts.count >= 2, let month = Int(parts[1]), (1...12).contains(month) else { return nil }
        return month
    }

    /// The consent column of a purpose: `consent_marketing`.
    package static func consentColumn(_ purpose: String) -> String { "consent_\(purpose)" }
}
