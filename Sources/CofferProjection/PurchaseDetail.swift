import CofferFormats

/// One purchase's products: the day, and each line's item, category, quantity and amount.
struct Basket: Sendable, Equatable {
    struct Line: Sendable, Equatable {
        var item: String
        var category: String?
        var quantity: Double
        /// price × quantity, when the line has a price.
        var amount: Double?
    }

    var day: Int32
    var lines: [Line]

    /// The distinct items in it.
    var items: Set<String> { Set(lines.map(\.item)) }
}

/// Counts by a small key, as a sorted array: a person has few distinct keys
/// (hours of the week they shop at, basket sizes), and a dictionary per person
/// costs more than the counts.
struct SmallCounts<Key: Comparable & Sendable>: Sendable, Equatable {
    private(set) var entries: [(key: Key, count: Int32)] = []

    mutating func add(_ key: Key, _ count: Int32 = 1) {
        let low = entries.partitioningIndex { $0.key >= key }
        if low < entries.count, entries[low].key == key { entries[low].count += count } else { entries.insert((key, count), at: low) }
    }

    mutating func merge(_ other: SmallCounts) {
        for entry in other.entries { add(entry.key, entry.count) }
    }

    static func == (a: SmallCounts, b: SmallCounts) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.count == $1.count }
    }
}

/// What the patterns and recommendations read about a person's purchases:
/// their latest baskets with products, the hours of the week they buy at, and
/// their basket sizes.
struct PurchaseDetail: Sendable, Equatable {
    /// The latest `basketLimit` baskets with products, in day order: enough for
    /// a person's habits, bounded for memory (the build state keeps them).
    private(set) var baskets: [Basket] = []
    /// Purchases by hour of the week (0 = Monday 00:00, in the policy's zone).
    var hours = SmallCounts<UInt8>()
    /// Purchases by basket size: the number of items ("1" … "5+"), or the till's
    /// own category (`L`, `M`, `S`) when that is all there is.
    var sizes = SmallCounts<String>()

    static let basketLimit = 50

    mutating func add(_ basket: Basket) {
        if let last = baskets.last, last.day > basket.day {
            baskets.insert(basket, at: baskets.firstIndex { $0.day > basket.day } ?? baskets.count)
        } else {
            baskets.append(basket)
        }
        if baskets.count > Self.basketLimit { baskets.removeFirst(baskets.count - Self.basketLimit) }
    }

    mutating func merge(_ other: PurchaseDetail) {
        for basket in other.baskets { add(basket) }
        hours.merge(other.hours)
        sizes.merge(other.sizes)
    }

    /// Every item the person bought in the baskets kept.
    var itemsBought: Set<String> { Set(baskets.flatMap { $0.lines.map(\.item) }) }

    /// The size label of a basket of `items` items.
    static func sizeLabel(items: Double) -> String? {
        guard items.isFinite, items >= 1 else { return nil }
        return items >= 5 ? "5+" : String(Int(items))
    }
}

/// What a person did besides buying: reviews and their ratings, social
/// likes, comments and shares, page views and app sessions.
struct Engagement: Sendable, Equatable {
    var reviews = 0
    /// Reviews that carried a numeric rating, and the sum of those ratings.
    var rated = 0
    var ratingSum = 0.0
    var likes = 0
    var comments = 0
    var shares = 0
    var pageViews = 0
    /// `Application Opened` events (Segment's mobile lifecycle event).
    var appSessions = 0

    mutating func merge(_ other: Engagement) {
        reviews += other.reviews
        rated += other.rated
        ratingSum += other.ratingSum
        likes += other.likes
        comments += other.comments
        shares += other.shares
        pageViews += other.pageViews
        appSessions += other.appSessions
    }

    var averageRating: Double? { rated > 0 ? ratingSum / Double(rated) : nil }
}

/// When a person last did each thing a time-window segment asks about
/// ("ordered online in the last 30 days"): ms since 1970, nil if never.
struct LastSeen: Sendable, Equatable {
    var onlineOrder: Int64?
    var instoreOrder: Int64?
    var emailOpen: Int64?
    var emailClick: Int64?
    var appSession: Int64?
    var pageView: Int64?
    var review: Int64?

    /// Every time, in column order (`SingleViewColumn` days_since_…).
    var all: [Int64?] { [onlineOrder, instoreOrder, emailOpen, emailClick, appSession, pageView, review] }

    init() {}

    init(_ times: [Int64?]) {
        (onlineOrder, instoreOrder, emailOpen, emailClick, appSession, pageView, review) = (times[0], times[1], times[2], times[3], times[4], times[5], times[6])
    }

    static func later(_ a: Int64?, _ b: Int64?) -> Int64? { a.map { a in b.map { max(a, $0) } ?? a } ?? b }

    mutating func merge(_ other: LastSeen) {
        self = LastSeen(zip(all, other.all).map { Self.later($0, $1) })
    }
}
