public import CofferStore
import Foundation
import CofferFormats

/// The oldest event time each kind may have and still be read into a
/// projection, an export or a profile: the start of today (UTC) minus the
/// policy's retention for the kind, counted on the calendar. Events older than
/// that are past retention and are left out everywhere they would be shown,
/// whether or not `coffer retention apply` has shredded them yet. Whole days,
/// so that builds on the same day share one cutoff (and a saved build state stays usable).
///
/// Only the kinds filed by month (`KeyEpoch.timedKinds`: what was collected
/// about a person) expire; decisions (consent, merge, restriction, erasure)
/// are evidence kept until the person is erased.
public struct RetentionCutoffs: Sendable, Equatable {
    /// The UTC day (ms at 00:00) the cutoffs were computed for.
    public let day: Int64
    private let identify, track, page, screen, alias, group, rectify: Int64

    public init(policy: Policy, now: Int64) {
        let day = Int64(CivilCalendar.days(now)) * CivilCalendar.dayMillis
        self.day = day
        func cutoff(_ kind: EventKind) -> Int64 { policy.retention(for: kind).map { $0.subtracting(from: day) } ?? Int64.min }
        identify = cutoff(.identify)
        track = cutoff(.track)
        page = cutoff(.page)
        screen = cutoff(.screen)
        alias = cutoff(.alias)
        group = cutoff(.group)
        rectify = cutoff(.rectify)
    }

    /// Events of `kind` that happened before this are past retention (`Int64.min`: `kind` never expires).
    @inline(__always)
    public func cutoff(_ kind: EventKind) -> Int64 {
        switch kind {
        case .identify: return identify
        case .track: return track
        case .page: return page
        case .screen: return screen
        case .alias: return alias
        case .group: return group
        case .rectify: return rectify
        case .consent, .merge, .erase, .restrict: return Int64.min
        }
    }

    /// Whether an event of `kind` at `time` is past retention.
    @inline(__always)
    public func isExpired(_ kind: EventKind, at time: Int64) -> Bool { time < cutoff(kind) }

    /// Whether every event a key epoch can hold is past retention, so its keys may be destroyed.
    public func isExpired(_ epoch: KeyEpoch) -> Bool { epoch.end <= cutoff(epoch.kind) }
}
