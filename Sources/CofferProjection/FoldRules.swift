import CofferPolicy
import Foundation

/// What folding an event into an aggregate needs besides the event: the
/// retention cutoffs (nil: nothing expires), what each track event means, and
/// the zone the shop's hours are counted in (`analysis: time_zone`).
struct FoldRules: Sendable {
    var cutoffs: RetentionCutoffs?
    var events: TrackEvents
    var zone: TimeZone

    init(cutoffs: RetentionCutoffs?, events: TrackEvents = .standard, zone: TimeZone = Self.utc) {
        self.cutoffs = cutoffs
        self.events = events
        self.zone = zone
    }

    /// The rules of `policy` on the day of `now`.
    init(policy: Policy, now: Int64) {
        self.init(cutoffs: RetentionCutoffs(policy: policy, now: now), events: TrackEvents(policy.analysis),
                  zone: policy.analysis.timeZone.flatMap(TimeZone.init(identifier:)) ?? Self.utc)
    }

    /// No retention, the shipped event names, UTC.
    static let plain = FoldRules(cutoffs: nil)
    static let utc = TimeZone(identifier: "UTC")!

    /// The hour of the week (0 Monday 00:00 … 167 Sunday 23:00) of an instant, in the shop's zone.
    func hourOfWeek(_ time: Int64) -> UInt8 {
        let local = time + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(time) / 1000))) * 1000
        let hours = local >= 0 ? local / 3_600_000 : (local - 3_599_999) / 3_600_000
        // 1970-01-01 was a Thursday: hour 0 of day 0 is hour 72 of its week.
        let week = (hours + 72) % 168
        return UInt8(week < 0 ? week + 168 : week)
    }
}
