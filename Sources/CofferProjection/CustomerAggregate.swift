import CofferFormats
import CofferPolicy
import CofferStore
import Foundation

/// A value that changes over time: the latest by event time wins (ties: the later log position).
struct Latest<Value: Sendable>: Sendable {
    var value: Value
    var time: Int64

    static func pick(_ old: Latest?, _ new: Latest?) -> Latest? {
        guard let new else { return old }
        guard let old else { return new }
        return new.time >= old.time ? new : old
    }
}

/// Everything the single view needs about one person, folded event by event.
/// Every part merges (sums, min/max, latest-by-time, unions), so two people
/// found to be one combine without re-reading their events.
package struct CustomerAggregate: Sendable {
    var userID: Latest<String>?
    var email: Latest<String>?
    var phone: Latest<String>?
    var firstName: Latest<String>?
    var lastName: Latest<String>?
    var age: Latest<Double>?
    var gender: Latest<String>?
    var birthday: Latest<String>?
    var postcode: Latest<String>?
    var city: Latest<String>?
    var loyaltyID: Latest<String>?
    var loyaltyPoints: Latest<Double>?
    /// The latest push token the app sent (`context.device.token`).
    var deviceToken: Latest<String>?

    var purchases = 0
    var refunds = 0
    var totalSpend = 0.0
    var online = 0
    var instore = 0
    var firstShop: Int64?
    var lastShop: Int64?
    /// Each day with purchases, in day order: how many carts, and their spend.
    /// The analysis reads purchase days (`frequency` over a window, purchase models).
    var purchaseDays = PurchaseDays()
    /// Baskets with products, hours of the week and basket sizes, for patterns and recommendations.
    var detail = PurchaseDetail()
    var engagement = Engagement()
    var lastSeen = LastSeen()
    var channels = Channels()
    var emailsDelivered = 0
    var emailOpens = 0
    var emailClicks = 0
    var events = 0

    package init() {}

    /// Folds one decrypted event in. An event past retention (`rules.cutoffs`) counts
    /// for nothing but the person's first user id, which keys their rows in
    /// every file and must not change when an old event expires.
    mutating func fold(kind: EventKind, payload: PayloadFields, rules: FoldRules = .plain) {
        let time = payload.time ?? 0
        if let user = payload.userID, userID == nil || time < userID!.time {
            userID = Latest(value: user, time: time)   // the first user id the person had
        }
        if let cutoffs = rules.cutoffs, cutoffs.isExpired(kind, at: time) { return }
        events += 1
        if let channel = payload.contextChannel.flatMap(Channels.init(name:)) { channels.insert(channel) }
        if let token = payload.deviceToken, !token.isEmpty { deviceToken = .pick(deviceToken, Latest(value: token, time: time)) }
        if !payload.traits.isEmpty { foldTraits(payload.traits, time: time) }
        switch kind {
        case .page:
            channels.insert(.web)
            engagement.pageViews += 1
            lastSeen.pageView = LastSeen.later(lastSeen.pageView, time)
        case .screen:
            channels.insert(.app)
            lastSeen.appSession = LastSeen.later(lastSeen.appSession, time)
        case .track:
            foldTrack(payload, time: time, rules: rules)
        default:
            break
        }
    }

    private mutating func foldTraits(_ traits: PayloadFields.Values<PayloadFields.Trait>, time: Int64) {
        /// The column's value in this event: its first source key that is set.
        func value(_ column: SingleViewColumn) -> PayloadFields.TraitValue? {
            for slot in column.slots { if let value = traits[slot] { return value } }
            return nil
        }
        func text(_ column: SingleViewColumn) -> Latest<String>? {
            for slot in column.slots { if let value = traits[slot]?.string, !value.isEmpty { return Latest(value: value, time: time) } }
            return nil
        }
        email = .pick(email, text(.email))
        phone = .pick(phone, text(.phone))
        firstName = .pick(firstName, text(.firstName))
        lastName = .pick(lastName, text(.lastName))
        // Normalised here too: events imported before ingest normalised gender.
        gender = .pick(gender, text(.gender).flatMap { latest in TraitValues.gender(latest.value).map { Latest(value: $0, time: latest.time) } })
        birthday = .pick(birthday, text(.birthday))
        postcode = .pick(postcode, text(.postcode))
        city = .pick(city, text(.city))
        loyaltyID = .pick(loyaltyID, text(.loyaltyID))
        if let value = value(.age)?.double { age = .pick(age, Latest(value: value, time: time)) }
        if let value = value(.loyaltyPoints)?.double {
            loyaltyPoints = .pick(loyaltyPoints, Latest(value: value, time: time))
        }
    }

    private mutating func foldTrack(_ payload: PayloadFields, time: Int64, rules: FoldRules) {
        let properties = payload.properties
        switch payload.event.flatMap(rules.events.meaning) {
        case .order?:
            let amount = (properties[.revenue] ?? properties[.spending] ?? properties[.total])?.double ?? 0
            if amount < 0 {
                refunds += 1
                totalSpend += amount
                return
            }
            purchases += 1
            totalSpend += amount
            let inStore = properties[.channel]?.string == "in-store"
            if inStore {
                instore += 1
                lastSeen.instoreOrder = LastSeen.later(lastSeen.instoreOrder, time)
            } else {
                online += 1
                lastSeen.onlineOrder = LastSeen.later(lastSeen.onlineOrder, time)
            }
            firstShop = min(firstShop ?? time, time)
            lastShop = max(lastShop ?? time, time)
            let day = PurchaseDay.day(of: time)
            purchaseDays.add(PurchaseDay(day: day, carts: 1, spend: amount, online: inStore ? 0 : 1))
            foldBasket(payload, day: day, time: time, rules: rules)
        case .refund?:
            refunds += 1
            totalSpend -= abs((properties[.revenue] ?? properties[.amount])?.double ?? 0)
        case .emailDelivered?:
            emailsDelivered += 1
        case .emailOpened?:
            emailOpens += 1
            lastSeen.emailOpen = LastSeen.later(lastSeen.emailOpen, time)
        case .emailClicked?:
            emailClicks += 1
            lastSeen.emailClick = LastSeen.later(lastSeen.emailClick, time)
        case .review?:
            engagement.reviews += 1
            lastSeen.review = LastSeen.later(lastSeen.review, time)
            if let rating = properties[.rating]?.double, rating.isFinite {
                engagement.rated += 1
                engagement.ratingSum += rating
            }
        case .like?:
            engagement.likes += 1
        case .comment?:
            engagement.comments += 1
        case .share?:
            engagement.shares += 1
        case .appOpened?:
            engagement.appSessions += 1
            lastSeen.appSession = LastSeen.later(lastSeen.appSession, time)
        case nil:
            break
        }
    }

    /// A purchase's hour of the week, basket size and products.
    private mutating func foldBasket(_ payload: PayloadFields, day: Int32, time: Int64, rules: FoldRules) {
        detail.hours.add(rules.hourOfWeek(time))
        let products = payload.products
        var size: String?
        if !products.isEmpty {
            let lines = products.map { line -> Basket.Line in
                let quantity = line.quantity.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? 1
                return Basket.Line(item: line.item, category: line.category, quantity: quantity,
                                   amount: line.price.flatMap { $0.isFinite ? $0 * quantity : nil })
            }
            detail.add(Basket(day: day, lines: lines))
            size = PurchaseDetail.sizeLabel(items: lines.reduce(0) { $0 + $1.quantity })
        } else {
            switch payload.properties[.cart_size] {
            case let .number(items)?: size = PurchaseDetail.sizeLabel(items: items)
            case let .text(label)? where !label.isEmpty && label.count <= 16: size = Double(label).map { PurchaseDetail.sizeLabel(items: $0) } ?? label
            default: size = nil
            }
        }
        if let size { detail.sizes.add(size) }
    }

    /// The purchase days of the analysis window ending at `now`: the last 365 days
    /// up to and including today (UTC), which is 12 months on average. The single
    /// view's `frequency` and the RFM scores both count over it.
    func analysisWindow(endingAt now: Int64) -> ArraySlice<PurchaseDay> {
        let today = PurchaseDay.day(of: now)
        return purchaseDays.days(from: today - 364, through: today)
    }

    /// Purchases (carts) in the analysis window ending at `now`.
    func purchases(inWindowEndingAt now: Int64) -> Int {
        analysisWindow(endingAt: now).reduce(0) { $0 + Int($1.carts) }
    }

    /// Combines another person's aggregate into this one (a merge).
    mutating func absorb(_ other: CustomerAggregate) {
        if let theirs = other.userID, userID == nil || theirs.time < userID!.time { userID = theirs }
        email = .pick(email, other.email)
        phone = .pick(phone, other.phone)
        firstName = .pick(firstName, other.firstName)
        lastName = .pick(lastName, other.lastName)
        age = .pick(age, other.age)
        gender = .pick(gender, other.gender)
        birthday = .pick(birthday, other.birthday)
        postcode = .pick(postcode, other.postcode)
        city = .pick(city, other.city)
        loyaltyID = .pick(loyaltyID, other.loyaltyID)
        loyaltyPoints = .pick(loyaltyPoints, other.loyaltyPoints)
        deviceToken = .pick(deviceToken, other.deviceToken)
        purchases += other.purchases
        refunds += other.refunds
        totalSpend += other.totalSpend
        online += other.online
        instore += other.instore
        if let first = other.firstShop { firstShop = min(firstShop ?? first, first) }
        if let last = other.lastShop { lastShop = max(lastShop ?? last, last) }
        purchaseDays.merge(other.purchaseDays)
        detail.merge(other.detail)
        engagement.merge(other.engagement)
        lastSeen.merge(other.lastSeen)
        channels.formUnion(other.channels)
        emailsDelivered += other.emailsDelivered
        emailOpens += other.emailOpens
        emailClicks += other.emailClicks
        events += other.events
    }
}

/// One day's purchases of one person.
struct PurchaseDay: Sendable, Equatable {
    /// The UTC day, in days since 1970.
    var day: Int32
    var carts: Int32
    var spend: Double
    /// Carts bought online (the rest were in a shop).
    var online: Int32 = 0

    /// The UTC day of an instant (ms since 1970), before 1970 included.
    static func day(of time: Int64) -> Int32 {
        Int32(clamping: time >= 0 ? time / 86_400_000 : (time - 86_399_999) / 86_400_000)
    }
}

/// A person's purchase days in day order, one entry a day: a sorted array, not a
/// dictionary, since most people have a few and the log brings them mostly in
/// order (an append), and the window's count is two binary searches.
struct PurchaseDays: Sendable, Equatable {
    private(set) var days: [PurchaseDay] = []

    init(_ days: [PurchaseDay] = []) {
        for day in days { add(day) }
    }

    var count: Int { days.count }

    /// Adds one purchase day's carts and spend to the day's entry.
    mutating func add(_ purchase: PurchaseDay) {
        if let last = days.last, last.day < purchase.day { return days.append(purchase) }
        let index = firstIndex(atOrAfter: purchase.day)
        if index < days.count, days[index].day == purchase.day {
            days[index].carts += purchase.carts
            days[index].spend += purchase.spend
            days[index].online += purchase.online
        } else {
            days.insert(purchase, at: index)
        }
    }

    mutating func merge(_ other: PurchaseDays) {
        for day in other.days { add(day) }
    }

    /// The entries of the days `first` to `last`, both included.
    func days(from first: Int32, through last: Int32) -> ArraySlice<PurchaseDay> {
        days[firstIndex(atOrAfter: first)..<firstIndex(atOrAfter: last &+ 1)]
    }

    /// Carts on the days `first` to `last`, both included.
    func carts(from first: Int32, through last: Int32) -> Int {
        days(from: first, through: last).reduce(0) { $0 + Int($1.carts) }
    }

    private func firstIndex(atOrAfter day: Int32) -> Int {
        days.partitioningIndex { $0.day >= day }
    }
}

/// The engagement channels a person used (web, app, email, social): bits, not
/// strings, since one is added for most events read.
struct Channels: OptionSet, Sendable {
    let rawValue: UInt8

    static let app = Channels(rawValue: 1)
    static let email = Channels(rawValue: 2)
    static let social = Channels(rawValue: 4)
    static let web = Channels(rawValue: 8)

    /// Every channel with its name, in name order.
    static let named: [(name: String, channel: Channels)] = [("app", .app), ("email", .email), ("social", .social), ("web", .web)]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The channel called `name`; nil for any other name (not an engagement channel).
    init?(name: String) {
        guard let channel = Self.named.first(where: { $0.name == name })?.channel else { return nil }
        self = channel
    }

    /// The names of the channels held, in name order.
    var names: [String] { Self.named.filter { contains($0.channel) }.map(\.name) }
}
