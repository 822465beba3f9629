import CofferFormats

/// The period one subject data key covers: one kind of collected event in
/// one calendar month (UTC). A subject's key for a kind and month is derived
/// from its record key and that month's secret (`epoch_keys`), so retention
/// destroys one secret to make everyone's events of the month unreadable
/// (crypto-shredding by time) while the log stays append-only.
///
/// The epoch is the log's `key_version`, readable in clear:
/// `(year × 100 + month) × 100 + kind code`, e.g. 20261103 for page events
/// of November 2026. Two versions are not epochs: `legacyVersion` (1), the one
/// key per subject of vaults from before epochs, and `recordVersion` (0), the
/// subject's record key: it seals the identifier values and the decisions
/// (consent, merge, restriction, erasure), which are evidence for as long as
/// the person is in the vault, and is destroyed only by erasure.
public struct KeyEpoch: Hashable, Sendable, Comparable {
    /// Every event a subject had before key epochs, in one key.
    public static let legacyVersion: UInt32 = 1
    /// The subject's record key: identifier values and decision events.
    public static let recordVersion: UInt32 = 0

    /// The kinds filed by month and destroyed when their retention period
    /// has passed: what was collected about the person (and corrections of it).
    public static let timedKinds: Set<EventKind> = [.identify, .track, .page, .screen, .alias, .group, .rectify]

    /// The key version an event of `kind` filed at `time` is sealed under.
    public static func version(of kind: EventKind, filedAt time: Int64) -> UInt32 {
        timedKinds.contains(kind) ? KeyEpoch(kind: kind, time: time).version : recordVersion
    }

    public let kind: EventKind
    /// Calendar year (clamped to 1970…9999) and month (1…12).
    public let year: Int, month: Int

    /// The epoch of an event of `kind` that happened at `time` (ms since 1970, UTC).
    public init(kind: EventKind, time: Int64) {
        let (year, month, _) = CivilCalendar.civilFromDays(CivilCalendar.days(time))
        self.kind = kind
        if year < 1970 {
            (self.year, self.month) = (1970, 1)
        } else if year > 9999 {
            (self.year, self.month) = (9999, 12)
        } else {
            (self.year, self.month) = (year, month)
        }
    }

    /// The epoch a stored key version names; nil for the legacy and record keys.
    public init?(version: UInt32) {
        let code = Int(version % 100), yearMonth = Int(version / 100)
        guard let kind = Self.kinds.first(where: { Self.code($0) == code }) else { return nil }
        let year = yearMonth / 100, month = yearMonth % 100
        guard (1970...9999).contains(year), (1...12).contains(month) else { return nil }
        (self.kind, self.year, self.month) = (kind, year, month)
    }

    /// The log's `key_version` of this epoch.
    public var version: UInt32 { UInt32((year * 100 + month) * 100 + Self.code(kind)) }

    /// First millisecond after the month: every event of the epoch happened before it.
    public var end: Int64 {
        let next = month == 12 ? (year + 1, 1) : (year, month + 1)
        return Int64(CivilCalendar.daysFromCivil(year: next.0, month: next.1, day: 1)) * CivilCalendar.dayMillis
    }

    /// `2026-11`.
    public var monthLabel: String { "\(year)-" + (month < 10 ? "0" : "") + "\(month)" }

    public static func < (lhs: KeyEpoch, rhs: KeyEpoch) -> Bool { lhs.version < rhs.version }

    /// The time an event is filed under: when it happened, but never later
    /// than when it was recorded (a claimed future date cannot keep it past its retention).
    public static func filingTime(occurredAt: Int64?, recordedAt: Int64) -> Int64 {
        min(occurredAt ?? recordedAt, recordedAt)
    }

    private static let kinds = EventKind.allCases.filter { timedKinds.contains($0) }

    /// Fixed codes: stored in every key version, so never renumbered (0 for kinds not filed by month).
    private static func code(_ kind: EventKind) -> Int {
        switch kind {
        case .identify: return 1
        case .track: return 2
        case .page: return 3
        case .screen: return 4
        case .alias: return 5
        case .group: return 6
        case .rectify: return 9
        case .consent, .merge, .erase, .restrict: return 0
        }
    }
}
