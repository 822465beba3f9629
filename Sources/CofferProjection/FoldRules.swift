import CofferFormats
import CofferPolicy
import Foundation

/// What folding an event into an aggregate needs besides the event: the
/// retention cutoffs (nil: nothing expires), what each track event means, and
/// the zone the shop's hours are counted in (`analysis: time_zone`).
struct FoldRules: Sendable {
    var cutoffs: RetentionCutoffs?
    var events: TrackEvents
    /// The zone's offsets: from each transition instant (ms) on, the offset in ms, in time order.
    private let offsets: [(from: Int64, offset: Int64)]

    init(cutoffs: RetentionCutoffs?, events: TrackEvents = .standard, zone: TimeZone = Self.utc) {
        self.cutoffs = cutoffs
        self.events = events
        offsets = Self.offsets(of: zone)
    }

    /// The zone's offset changes from 1970 to 2100, found once: asking Foundation for the
    /// offset of every purchase cost a fifth of reading an order.
    static func offsets(of zone: TimeZone) -> [(from: Int64, offset: Int64)] {
        var instant = Date(timeIntervalSince1970: 0)
        var offsets: [(from: Int64, offset: Int64)] = [(Int64.min, Int64(zone.secondsFromGMT(for: instant)) * 1000)]
        let end = Date(timeIntervalSince1970: 4_102_444_800)   // 2100-01-01
        while let next = zone.nextDaylightSavingTimeTransition(after: instant), next < end, offsets.count < 1000 {
            offsets.append((Int64((next.timeIntervalSince1970 * 1000).rounded()), Int64(zone.secondsFromGMT(for: next)) * 1000))
            instant = next
        }
        return offsets
    }

    /// The rules of `policy` on the day of `now`.
    init(policy: Policy, now: Int64) {
        self.init(policy: policy, cutoffs: RetentionCutoffs(policy: policy, now: now))
    }

    /// The rules of `policy` with retention `cutoffs` (of the policy, on some day).
    init(policy: Policy, cutoffs: RetentionCutoffs) {
        self.init(cutoffs: cutoffs, events: TrackEvents(policy.analysis),
                  zone: policy.analysis.timeZone.flatMap(TimeZone.init(identifier:)) ?? Self.utc)
    }

    /// No retention, the shipped event names, UTC.
    static let plain = FoldRules(cutoffs: nil)
    static let utc = TimeZone(identifier: "UTC")!

    /// The hour of the week (0 Monday 00:00 … 167 Sunday 23:00) of an instant, in the shop's zone.
    func hourOfWeek(_ time: Int64) -> UInt8 {
        // The last transition at or before `time` (the first entry starts at Int64.min).
        let after = offsets.partitioningIndex { $0.from > time }
        let local = time + offsets[max(after - 1, 0)].offset
        let hours = local >= 0 ? local / 3_600_000 : (local - 3_599_999) / 3_600_000
        // 1970-01-01 was a Thursday: hour 0 of day 0 is hour 72 of its week.
        let week = (hours + 72) % 168
        return UInt8(week < 0 ? week + 168 : week)
    }
}
