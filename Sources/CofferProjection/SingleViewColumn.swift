package import CofferPolicy

/// One column of the single customer view, described once: its name, its SQL
/// type, the payload keys it is read from, its unit, whether a rectification
/// may set it, and the class of field it is by nature.
///
/// `SingleViewColumn.all` is the one list of the view's columns: the table's
/// column order, the projection's SQL types, the trait keys the build reads
/// from each event and the fields `request rectify` accepts all come from it.
package struct SingleViewColumn: Sendable, Hashable {
    /// The SQLite type of an untransformed value (a transformed one is text).
    package enum SQLType: String, Sendable {
        case integer = "INTEGER"
        case real = "REAL"
        case text = "TEXT"
    }

    /// What a value measures, for people reading it.
    package enum Unit: String, Sendable {
        case years, days, count, points, currency
        /// A civil date, `1990-04-17`.
        case date
        /// An ISO-8601 time in UTC.
        case timestamp
        /// A month number, 1–12.
        case month
        /// Purchases per month (30.44 days).
        case perMonth = "per month"
        /// A fraction between 0 and 1.
        case share
        /// A comma-separated list of names.
        case list
        /// A score from 1 to 5, 5 the best (an RFM quintile).
        case score = "score 1-5"
        /// A probability between 0 and 1.
        case probability
        /// A star rating, as the reviews gave it.
        case rating
        /// Expected purchases (days with a purchase, as the BG/NBD model counts them).
        case purchases
    }

    /// The column's name in projections, exports and segment rules.
    package let name: String
    package let type: SQLType
    /// The JSON keys of `traits` (or `context.traits`) the column takes its
    /// value from, the first found in an event winning; empty for a column
    /// computed from events. A rectification writes the first of them.
    package let sourceKeys: [String]
    package let unit: Unit?
    /// Whether `request rectify` may set it (identifiers may not: they link
    /// records to the person, and are corrected by ingesting an identify event).
    package let rectifiable: Bool
    /// The field class the shipped policy gives the column; the policy in
    /// force decides, this is what `policies/default.yaml` is checked against.
    package let fieldClass: FieldClass
    /// What the value is, in words for a data subject or an analyst.
    package let meaning: String
    /// Where the column's source keys lie in `traitKeys` (slots of a scanned payload).
    package private(set) var slots: Range<Int> = 0..<0

    init(_ name: String, _ type: SQLType, from sourceKeys: [String] = [], unit: Unit? = nil, rectifiable: Bool = false,
         _ fieldClass: FieldClass, _ meaning: String) {
        self.name = name
        self.type = type
        self.sourceKeys = sourceKeys
        self.unit = unit
        self.rectifiable = rectifiable
        self.fieldClass = fieldClass
        self.meaning = meaning
    }

    /// The trait a rectification of this column writes.
    package var rectifiedTrait: String? { rectifiable ? sourceKeys.first : nil }
}

extension SingleViewColumn {
    /// Every column, in table order (consent columns follow, one per consent-based purpose).
    package static let all: [SingleViewColumn] = slotted([
        .init("customer_id", .text, .directIdentifier, "the person's first user id, else a random id Coffer gave them"),
        .init("email", .text, from: ["email"], .directIdentifier, "the latest email address"),
        .init("phone", .text, from: ["phone"], .directIdentifier, "the latest phone number"),
        .init("first_name", .text, from: ["firstName", "first_name"], rectifiable: true, .directIdentifier, "the latest first name"),
        .init("last_name", .text, from: ["lastName", "last_name"], rectifiable: true, .directIdentifier, "the latest last name"),
        .init("age", .integer, from: ["age"], unit: .years, rectifiable: true, .quasiIdentifier, "the latest age given"),
        .init("gender", .text, from: ["gender"], rectifiable: true, .quasiIdentifier, "the latest gender given"),
        .init("birthday", .text, from: ["birthday"], unit: .date, rectifiable: true, .quasiIdentifier, "the latest birthday given"),
        .init("birthday_month", .integer, unit: .month, .quasiIdentifier, "the month of the birthday"),
        .init("postcode", .text, from: ["postcode", "postalCode", "zip"], rectifiable: true, .quasiIdentifier, "the latest postcode"),
        .init("city", .text, from: ["city"], rectifiable: true, .quasiIdentifier, "the latest city"),
        .init("loyalty_id", .text, from: ["loyaltyId", "loyalty_id"], .directIdentifier, "the loyalty card number"),
        .init("device_token", .text, .directIdentifier, "the latest push token of the person's app (context.device.token)"),
        .init("total_spend", .real, unit: .currency, .quasiIdentifier, "the sum of all purchases, less refunds"),
        .init("first_time_shop", .text, unit: .timestamp, .quasiIdentifier, "the time of the first purchase"),
        .init("last_time_shop", .text, unit: .timestamp, .quasiIdentifier, "the time of the latest purchase"),
        .init("shop_times", .integer, unit: .count, .behavioural, "the number of purchases (refunds are not purchases)"),
        .init("frequency", .real, unit: .perMonth, .behavioural, "purchases per month over the last 12 months, the same span for everyone"),
        .init("lifetime", .real, unit: .days, .behavioural, "days from the first purchase to the latest"),
        .init("avg_spend", .real, unit: .currency, .quasiIdentifier, "total_spend divided by shop_times"),
        .init("recency", .integer, unit: .days, .behavioural, "whole days since the latest purchase"),
        .init("online_share", .real, unit: .share, .behavioural, "the share of purchases made online"),
        .init("instore_share", .real, unit: .share, .behavioural, "the share of purchases made in a shop"),
        .init("channels", .text, unit: .list, .behavioural, "the engagement channels the person used: app, email, social, web"),
        .init("email_open_rate", .real, unit: .share, .behavioural, "emails opened per email delivered"),
        .init("email_click_rate", .real, unit: .share, .behavioural, "email links clicked per email delivered"),
        .init("loyalty_points", .integer, from: ["loyaltyPoints", "loyalty_points"], unit: .points, rectifiable: true, .behavioural,
              "the loyaltyPoints trait, else one point per whole unit spent for loyalty members"),
        .init("reviews", .integer, unit: .count, .behavioural, "reviews written (Review Submitted, Product Reviewed)"),
        .init("avg_rating", .real, unit: .rating, .behavioural, "the mean rating of the reviews that gave one"),
        .init("social_likes", .integer, unit: .count, .behavioural, "posts liked (Post Liked)"),
        .init("social_comments", .integer, unit: .count, .behavioural, "comments on posts (Post Commented, Comment Posted)"),
        .init("social_shares", .integer, unit: .count, .behavioural, "posts shared (Post Shared)"),
        .init("page_views", .integer, unit: .count, .behavioural, "web pages viewed (page events)"),
        .init("app_sessions", .integer, unit: .count, .behavioural, "app sessions (Application Opened)"),
        .init("days_since_online_order", .integer, unit: .days, .behavioural, "whole days since the latest online order"),
        .init("days_since_instore_order", .integer, unit: .days, .behavioural, "whole days since the latest purchase in a shop"),
        .init("days_since_email_open", .integer, unit: .days, .behavioural, "whole days since an email was last opened"),
        .init("days_since_email_click", .integer, unit: .days, .behavioural, "whole days since an email link was last clicked"),
        .init("days_since_app_session", .integer, unit: .days, .behavioural, "whole days since the app was last used (a screen or Application Opened)"),
        .init("days_since_page_view", .integer, unit: .days, .behavioural, "whole days since a web page was last viewed"),
        .init("days_since_review", .integer, unit: .days, .behavioural, "whole days since the latest review"),
        .init("rfm_recency", .integer, unit: .score, .behavioural, "the recency quintile among all buyers: 5 bought most recently"),
        .init("rfm_frequency", .integer, unit: .score, .behavioural, "the quintile of purchases in the last 12 months"),
        .init("rfm_monetary", .integer, unit: .score, .behavioural, "the quintile of spend in the last 12 months"),
        .init("rfm_segment", .text, .behavioural,
              "champions, loyal, potential loyalists, new, at risk, can't lose, hibernating or lost, from the recency and frequency scores"),
        .init("p_alive", .real, unit: .probability, .behavioural, "the probability the person is still a customer (BG/NBD)"),
        .init("expected_purchases_30d", .real, unit: .purchases, .behavioural, "expected purchase days in the next 30 days (BG/NBD)"),
        .init("expected_purchases_90d", .real, unit: .purchases, .behavioural, "expected purchase days in the next 90 days (BG/NBD)"),
        .init("expected_purchases_365d", .real, unit: .purchases, .behavioural, "expected purchase days in the next 365 days (BG/NBD)"),
        .init("expected_avg_spend", .real, unit: .currency, .behavioural, "the expected value of a future purchase day (Gamma-Gamma)"),
        .init("clv_12m", .real, unit: .currency, .behavioural,
              "the next 12 months' expected spend, discounted monthly at the policy's analysis: annual_discount_rate"),
        .init("churn_risk", .text, .behavioural, "low (p_alive 0.7 or more), medium (0.3 to 0.7) or high (below 0.3)"),
        .init("recommended_items", .text, unit: .list, .behavioural,
              "up to 3 items often bought with what the person buys (lift above 1, surest first) that they have not bought; only in the recommendations purpose's files"),
    ])

    /// Every column's name, in table order.
    package static let names = all.map(\.name)

    /// The columns the analysis computes from everyone's purchases (scores, forecasts, recommendations).
    package static let analysisNames = ["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment", "p_alive",
                                        "expected_purchases_30d", "expected_purchases_90d", "expected_purchases_365d",
                                        "expected_avg_spend", "clv_12m", "churn_risk", "recommended_items"]

    /// The column named `name`, if the view has one (consent columns are not in the table).
    package static func named(_ name: String) -> SingleViewColumn? { byName[name] }

    /// The trait keys the build reads from an event, every column's in table order.
    static let traitKeys = all.flatMap(\.sourceKeys)

    /// The columns by a name a rectification may use: the column's name or one of its source keys.
    package static let rectifiableByName: [String: SingleViewColumn] = Dictionary(
        all.filter(\.rectifiable).flatMap { column in ([column.name] + column.sourceKeys).map { ($0, column) } },
        uniquingKeysWith: { first, _ in first })

    /// The SQL type of a consent column (`consent_marketing`): 0 or 1.
    package static let consentType = SQLType.integer

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// Gives each column the slots of its source keys, in the order of `traitKeys`.
    private static func slotted(_ columns: [SingleViewColumn]) -> [SingleViewColumn] {
        var next = 0
        return columns.map { column in
            var column = column
            column.slots = next..<(next + column.sourceKeys.count)
            next += column.sourceKeys.count
            return column
        }
    }

    // The columns the build folds from traits, by name, for the aggregate's hot loop.
    static let email = byName["email"]!
    static let phone = byName["phone"]!
    static let firstName = byName["first_name"]!
    static let lastName = byName["last_name"]!
    static let age = byName["age"]!
    static let gender = byName["gender"]!
    static let birthday = byName["birthday"]!
    static let postcode = byName["postcode"]!
    static let city = byName["city"]!
    static let loyaltyID = byName["loyalty_id"]!
    static let loyaltyPoints = byName["loyalty_points"]!
}
