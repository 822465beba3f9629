import CofferIngest
import CofferStore
import Foundation

/// One value of a single-view column.
public enum Cell: Sendable, Equatable, CustomStringConvertible {
    case null
    case integer(Int)
    case real(Double)
    case text(String)

    public var double: Double? {
        switch self {
        case let .integer(value): return Double(value)
        case let .real(value): return value
        case let .text(text): return Double(text)
        case .null: return nil
        }
    }

    public var description: String {
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
/// days from first to last purchase; `frequency` is purchases per month
/// (30.44 days) of that span, at least one month; `avg_spend` is total_spend /
/// shop_times; `recency` is whole days since the last purchase; open and click
/// rates are per delivered email; `loyalty_points` is the `loyaltyPoints` trait,
/// else one point per whole unit spent for loyalty members.
public enum SingleView {
    /// Every column, in table order (consent columns follow, one per consent-based purpose).
    public static let columns = [
        "customer_id", "email", "phone", "first_name", "last_name", "age", "gender", "birthday", "birthday_month", "postcode",
        "city", "loyalty_id", "total_spend", "first_time_shop", "last_time_shop", "shop_times", "frequency", "lifetime",
        "avg_spend", "recency", "online_share", "instore_share", "channels", "email_open_rate", "email_click_rate",
        "loyalty_points",
    ]

    static let day = 86_400_000.0

    /// The row of `aggregate` for `subject` at `now`; `consents` maps consent column → granted.
    public static func row(_ aggregate: CustomerAggregate, subject: SubjectID, now: Int64,
                           consents: [String: Bool]) -> [String: Cell] {
        func text(_ latest: Latest<String>?) -> Cell { latest.map { .text($0.value) } ?? .null }
        func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }
        var row: [String: Cell] = [
            "customer_id": .text(aggregate.userID?.value ?? subject.hex),
            "email": text(aggregate.email), "phone": text(aggregate.phone),
            "first_name": text(aggregate.firstName), "last_name": text(aggregate.lastName),
            "age": aggregate.age.map { .integer(Int($0.value)) } ?? .null,
            "gender": text(aggregate.gender), "birthday": text(aggregate.birthday),
            "birthday_month": aggregate.birthday.flatMap { birthdayMonth($0.value) }.map { .integer($0) } ?? .null,
            "postcode": text(aggregate.postcode), "city": text(aggregate.city), "loyalty_id": text(aggregate.loyaltyID),
            "total_spend": .real(round2(aggregate.totalSpend)),
            "shop_times": .integer(aggregate.purchases),
            "channels": .text(aggregate.channels.sorted().joined(separator: ",")),
        ]
        if let first = aggregate.firstShop, let last = aggregate.lastShop {
            let lifetime = Double(last - first) / day
            row["first_time_shop"] = .text(Timestamp.format(first))
            row["last_time_shop"] = .text(Timestamp.format(last))
            row["lifetime"] = .real(round2(lifetime))
            row["frequency"] = .real(round2(Double(aggregate.purchases) / max(lifetime / 30.436875, 1)))
            row["recency"] = .integer(Int(Double(now - last) / day))
        } else {
            for column in ["first_time_shop", "last_time_shop", "lifetime", "frequency", "recency"] { row[column] = .null }
        }
        let shops = aggregate.online + aggregate.instore
        row["avg_spend"] = aggregate.purchases > 0 ? .real(round2(aggregate.totalSpend / Double(aggregate.purchases))) : .null
        row["online_share"] = shops > 0 ? .real(round2(Double(aggregate.online) / Double(shops))) : .null
        row["instore_share"] = shops > 0 ? .real(round2(Double(aggregate.instore) / Double(shops))) : .null
        if aggregate.emailsDelivered > 0 {
            row["email_open_rate"] = .real(round2(Double(aggregate.emailOpens) / Double(aggregate.emailsDelivered)))
            row["email_click_rate"] = .real(round2(Double(aggregate.emailClicks) / Double(aggregate.emailsDelivered)))
        } else {
            row["email_open_rate"] = .null
            row["email_click_rate"] = .null
        }
        if let points = aggregate.loyaltyPoints {
            row["loyalty_points"] = .integer(Int(points.value))
        } else {
            row["loyalty_points"] = aggregate.loyaltyID != nil ? .integer(Int(max(aggregate.totalSpend, 0).rounded(.down))) : .null
        }
        for (column, granted) in consents { row[column] = .integer(granted ? 1 : 0) }
        return row
    }

    static func birthdayMonth(_ text: String) -> Int? {
        let parts = text.split(separator: "-")
        guard parts.count >= 2, let month = Int(parts[1]), (1...12).contains(month) else { return nil }
        return month
    }

    /// The consent column of a purpose: `consent_marketing`.
    public static func consentColumn(_ purpose: String) -> String { "consent_\(purpose)" }
}
