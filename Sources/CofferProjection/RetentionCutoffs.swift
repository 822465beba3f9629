import CofferPolicy
import CofferStore
import Foundation

/// The oldest event time each kind may have and still be read into a
/// projection, an export or a profile: the start of today (UTC) minus the
/// policy's retention for the kind, counted on the calendar. Events older than
/// that are past retention and are left out everywhere they would be shown,
/// whether or not they have been shredded yet. Whole days, so that builds on
/// the same day share one cutoff (and a saved build state stays usable).
public struct RetentionCutoffs: Sendable, Equatable {
    /// The UTC day (ms at 00:00) the cutoffs were computed for.
    public let day: Int64
    private let identify, track, page, screen, rectify, other: Int64

    static let dayMillis: Int64 = 86_400_000

    public init(policy: Policy, now: Int64) {
        let day = (now >= 0 ? now / Self.dayMillis : (now - Self.dayMillis + 1) / Self.dayMillis) * Self.dayMillis
        self.day = day
        func cutoff(_ kind: EventKind) -> Int64 { policy.retention(for: kind).map { $0.subtracting(from: day) } ?? Int64.min }
        identify = cutoff(.identify)
        track = cutoff(.track)
        page = cutoff(.page)
        screen = cutoff(.screen)
        rectify = cutoff(.rectify)
        other = Int64.min
    }

    /// Whether a stored event is past retention, by the time it carries.
    public func isExpired(_ event: StoredEvent) -> Bool {
        isExpired(event.kind, at: PayloadFields.scan(event.payload)?.time ?? event.recordedAt)
    }

    /// Whether an event of `kind` at `time` is past retention.
    @inline(__always)
    public func isExpired(_ kind: EventKind, at time: Int64) -> Bool {
        switch kind {
        case .identify: return time < identify
        case .track: return time < track
        case .page: return time < page
        case .screen: return time < screen
        case .rectify: return time < rectify
        default: return time < other
        }
    }
}
