/// Gregorian calendar arithmetic on whole days since 1970-01-01 (UTC), shared
/// by timestamp parsing, the week generalisation and key epochs.
package enum CivilCalendar {
    /// Milliseconds in a day.
    package static let dayMillis: Int64 = 86_400_000

    /// Whole days since 1970-01-01 of `millis` (floored, so times before 1970 fall on the earlier day).
    package static func days(_ millis: Int64) -> Int {
        Int(millis >= 0 ? millis / dayMillis : (millis - dayMillis + 1) / dayMillis)
    }

    /// Days in `month` (1…12) of `year` (Gregorian).
    package static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    package static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of the day `z0` days after 1970-01-01 (Howard Hinnant's algorithm).
    /// The calendar month of a day number, counted in months since January of year 0
    /// (consecutive months differ by one, across years too).
    package static func monthIndex(ofDay day: Int) -> Int {
        let (year, month, _) = civilFromDays(day)
        return year * 12 + month - 1
    }

    /// The `YYYY-MM` of a `monthIndex(ofDay:)`.
    package static func monthLabel(_ index: Int) -> String {
        "\(index / 12)-\(index % 12 < 9 ? "0" : "")\(index % 12 + 1)"
    }

    /// The date of a day number, `2026-03-02`.
    package static func format(days: Int) -> String {
        let (year, month, day) = civilFromDays(days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(year)-\(two(month))-\(two(day))"
    }

    package static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
