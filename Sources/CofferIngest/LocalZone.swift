import CofferFormats
package import Foundation

/// The zone a CSV file's local times are in (its mapping's `timezone:`): a fixed
/// offset (`+01:00`, `Z`, `UTC`), or an IANA zone (`Europe/London`) whose offset
/// changes with summer time, so each time gets the offset in force on its date.
package enum LocalZone: Sendable, Equatable {
    case fixed(minutes: Int)
    case named(TimeZone)

    /// nil when `text` is neither an offset nor a zone this system knows.
    package init?(_ text: String) {
        if text == "UTC" || text == "Z" {
            self = .fixed(minutes: 0)
        } else if let minutes = Timestamp.offsetMinutes(text) {
            self = .fixed(minutes: minutes)
        } else if text.contains("/"), let zone = TimeZone(identifier: text) {
            self = .named(zone)
        } else {
            return nil
        }
    }

    /// The instant (ms since 1970) of an ISO-8601 date and time (seconds optional): its own
    /// offset when it has one, else this zone's.
    package func parse(_ text: String) -> Int64? {
        // Tills often leave the seconds out: `2026-01-05 08:00` is 08:00:00.
        if text.utf8.count == 16, Timestamp.parse(text + ":00", allowSpace: true, defaultOffsetMinutes: 0) != nil {
            return parse(text + ":00")
        }
        if let own = Timestamp.parse(text, allowSpace: true) { return own }
        switch self {
        case let .fixed(minutes):
            return Timestamp.parse(text, allowSpace: true, defaultOffsetMinutes: minutes)
        case let .named(zone):
            return Timestamp.parse(text, allowSpace: true, defaultOffsetMinutes: 0).map { Self.instant(local: $0, in: zone) }
        }
    }

    /// The instant of the wall-clock time `local` (its fields read as if UTC) in this zone.
    package func instant(local: Int64) -> Int64 {
        switch self {
        case let .fixed(minutes): local - Int64(minutes) * 60_000
        case let .named(zone): Self.instant(local: local, in: zone)
        }
    }

    /// The instant of the wall-clock time `local` (its fields read as if UTC) in `zone`.
    /// A time that occurs twice (when clocks go back) is its first occurrence; a time that
    /// never occurs (skipped when clocks go forward) is read with the offset before the change.
    static func instant(local: Int64, in zone: TimeZone) -> Int64 {
        func offset(at instant: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant) / 1000))) * 1000
        }
        let day: Int64 = 86_400_000
        let before = offset(at: local - day), after = offset(at: local + day)
        let candidates = [local - before, local - after].filter { local - offset(at: $0) == $0 }
        return candidates.min() ?? local - before
    }
}
