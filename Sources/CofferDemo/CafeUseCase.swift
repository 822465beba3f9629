package import CofferActivation
package import CofferPolicy

/// One of the café's marketing use cases (the seeds' list): a segment of the
/// shipped `segments.yaml`, reached by a campaign on one channel, and how the
/// demo's customers answer it.
package struct CafeUseCase: Sendable {
    /// What a member who answers buys or does.
    enum Response: Sendable {
        /// Their usual: a coffee, often with a pastry.
        case usual
        /// An order ahead online (the first, for people who only came in).
        case online
        /// An app session, then an order in the app.
        case app
        /// A share of the café's post, then a visit.
        case share
        /// A review, and sometimes a visit.
        case review
        /// The first of their recommended items (the email's RECOMMENDED_ITEMS), with a coffee.
        case recommended
        /// The promoted drink, two of them.
        case icedLatte
        /// A pastry and a coffee on the birthday offer.
        case birthdayTreat
    }

    package var title: String
    /// The campaign's name (letters, digits, -).
    package var campaign: String
    package var segment: String
    package var channel: ActivationSettings.Channel
    package var variants: [Campaign.Variant]
    /// When it went out, in days before the simulation's now.
    package var daysAgo: Int
    /// How many days its offer is valid from the start (nil: open-ended).
    package var validDays: Int?
    /// A birthday campaign: members whose birthday month falls in its window.
    package var birthdays = false
    /// Per variant, the chance that a member who opened (or, for SMS, got) the message buys because of it.
    var answer: [String: Double]
    var response: Response

    /// The `--window` its report is read over: the offer's validity, else 14 days.
    package var reportWindow: String { validDays.map { "\($0)d" } ?? "14d" }

    /// The use cases, in the order they went out: four days apart, then two (someone in two of
    /// the last four meets the policy's frequency cap of 2 messages in 7 days at the last).
    package static let all: [CafeUseCase] = [
        CafeUseCase(title: "Loyalty rewards", campaign: "demo-loyalty-rewards", segment: "loyal_regulars", channel: .email,
                    variants: [.init(name: "A", content: "Your 10th coffee is on us"), .init(name: "B", content: "Double loyalty points all week")],
                    daysAgo: 46, answer: ["A": 0.55, "B": 0.35], response: .usual),
        CafeUseCase(title: "Birthday offers", campaign: "demo-birthday-treats", segment: "told_us_birthday", channel: .email,
                    variants: [.init(name: "A", content: "A free pastry on your birthday, valid for two weeks")],
                    daysAgo: 42, validDays: 14, birthdays: true, answer: ["A": 0.50], response: .birthdayTreat),
        CafeUseCase(title: "Online-ordering offer", campaign: "demo-order-ahead", segment: "instore_only", channel: .email,
                    variants: [.init(name: "A", content: "Order ahead online: 20 % off your first order")],
                    daysAgo: 38, validDays: 14, answer: ["A": 0.40], response: .online),
        CafeUseCase(title: "App-adoption offer", campaign: "demo-app-adoption", segment: "app_prospects", channel: .email,
                    variants: [.init(name: "A", content: "Get the app: your first app order's coffee is free")],
                    daysAgo: 34, answer: ["A": 0.35], response: .app),
        CafeUseCase(title: "Social-advocacy reward", campaign: "demo-social-advocacy", segment: "social_advocates", channel: .email,
                    variants: [.init(name: "A", content: "Share your latte art with #CofferCafe: a cookie on us")],
                    daysAgo: 27, answer: ["A": 0.35], response: .share),
        CafeUseCase(title: "Review requests", campaign: "demo-review-requests", segment: "review_prospects", channel: .sms,
                    variants: [.init(name: "A", content: "How was your last visit? Tell us in a review")],
                    daysAgo: 25, answer: ["A": 0.45], response: .review),
        CafeUseCase(title: "Personalised email with recommended items", campaign: "demo-beans-for-home", segment: "beans_cross_sell",
                    channel: .email, variants: [.init(name: "A", content: "Picked for you: 15 % off a bag to take home")],
                    daysAgo: 23, answer: ["A": 0.45], response: .recommended),
        CafeUseCase(title: "Time-sensitive promo to frequent openers", campaign: "demo-iced-latte-flash", segment: "promo_email_responders",
                    channel: .email, variants: [.init(name: "A", content: "This weekend only: two iced americanos for one")],
                    daysAgo: 21, validDays: 3, answer: ["A": 0.50], response: .icedLatte),
    ]
}
