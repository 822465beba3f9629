package import CofferPolicy

/// What the single view makes of a track event, by its name: purchases and
/// refunds as the policy names them (`analysis: purchase_events`), email,
/// review, social and app events as Segment's specs name them. Names are
/// matched without case ("order completed" is a purchase too).
package struct TrackEvents: Sendable {
    package enum Meaning: Sendable {
        case order, refund, emailDelivered, emailOpened, emailClicked
        case review, like, comment, share, appOpened
    }

    /// Names as listed, found without lower-casing the name (the common case).
    private let exact: [String: Meaning]
    private let folded: [String: Meaning]

    /// The events whose names do not depend on the policy.
    static let fixed: [String: Meaning] = [
        "Email Delivered": .emailDelivered, "Email Sent": .emailDelivered, "Email Opened": .emailOpened,
        "Email Link Clicked": .emailClicked, "Email Clicked": .emailClicked,
        "Review Submitted": .review, "Product Reviewed": .review,
        "Post Liked": .like, "Post Commented": .comment, "Comment Posted": .comment, "Post Shared": .share,
        "Application Opened": .appOpened,
    ]

    init(purchases: [String], refunds: [String]) {
        var exact = Self.fixed
        for name in purchases { exact[name] = .order }
        for name in refunds { exact[name] = .refund }
        self.exact = exact
        folded = Dictionary(exact.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    package init(_ settings: AnalysisSettings) { self.init(purchases: settings.purchaseEvents, refunds: settings.refundEvents) }

    /// The shipped names: `Order Completed` and `Order Refunded`.
    static let standard = TrackEvents(AnalysisSettings())

    package func meaning(of name: String) -> Meaning? { exact[name] ?? folded[name.lowercased()] }
}
