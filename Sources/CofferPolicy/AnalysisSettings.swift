import Foundation

/// How the projections' analysis reads events and values customers
/// (`analysis:` in the policy): which track events are purchases and refunds,
/// the discount rate of `clv_12m`, and the purpose recommendations are made for.
public struct AnalysisSettings: Sendable, Equatable {
    /// Track events that are purchases, matched without case ("order completed" counts).
    public var purchaseEvents: [String] = ["Order Completed"]
    /// Track events that are refunds (their amount is taken off the spend).
    public var refundEvents: [String] = ["Order Refunded"]
    /// The yearly rate future spend is discounted at in `clv_12m` (0.1: 10 % a year).
    public var annualDiscountRate = 0.10
    /// The consent-based purpose whose projections carry `recommended_items` and
    /// the `product_affinity` table; nil: no purpose does.
    public var recommendationsPurpose: String?
    /// The IANA zone purchase hours are counted in (`Europe/London`); nil: UTC.
    public var timeZone: String?

    public init() {}

    /// The single-view column that holds recommendations: denied for every other purpose.
    public static let recommendationsField = "recommended_items"

    /// The monthly rate equivalent to the yearly one: (1 + rate)^(1/12) − 1.
    public var monthlyDiscountRate: Double { pow(1 + annualDiscountRate, 1.0 / 12) - 1 }
}
