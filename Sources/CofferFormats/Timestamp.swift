/// ISO-8601 timestamps, parsed and formatted without Foundation's formatters
/// (which are slow and not safe to share across tasks).
package enum Timestamp {
    /// Milliseconds since 1970 (UTC) for `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]`.
    ///
    /// - Parameters:
    ///   - allowSpace: accept a space between date and time (CSV exports do this).
    ///   - defaultOffsetMinutes: zone to assume when the text has none; nil
    ///     means a zone is required.
    /// - Returns: nil when the text is not such a timestamp or the date is impossible.
    package static func parse(_ text: String, allowSpace: Bool = false, defaultOffsetMinutes: Int? = nil) -> Int64? {
        var text = text
        return text.withUTF8 { parse(utf8: $0, allowSpace: allowSpace, defaultOffsetMinutes: defaultOffsetMinutes) }
    }

    /// `parse` of UTF-8 bytes where they lie (e.g. inside an event's payload).
    package static func parse(utf8 b: UnsafeBufferPointer<UInt8>, allowSpace: Bool = false, defaultOffsetMinutes: Int? = nil) -> Int64? {
        func digits(_ start: Int, _ count: Int) -> Int? { Timestamp.digits(b, start, count) }
        guard b.count >= 19, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
              let day = digits(8, 2), b[10] == 84 || b[10] == 116 || (allowSpace && b[10] == 32),
              let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        var i = 19
        var millis = 0
        if i < b.count && b[i] == 46 {  // fraction
            i += 1
            var scale = 100
            let start = i
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                millis += Int(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        let offset: Int
        if i == b.count {
            guard let fallback = defaultOffsetMinutes else { return nil }
            offset = fallback
        } else {
            guard let zone = zoneOffset(b, from: i) else { return nil }
            offset = zone
        }
        let days = CivilCalendar.daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// Minutes east of UTC for a zone designator: `Z`, `±HH:MM` or `±HHMM`; nil if malformed.
    package static func offsetMinutes(_ zone: String) -> Int? {
        var zone = zone
        return zone.withUTF8 { zoneOffset($0, from: 0) }
    }

    /// The zone designator that runs from `i` to the end of `b`, in minutes east of UTC.
    static func zoneOffset(_ b: UnsafeBufferPointer<UInt8>, from i: Int) -> Int? {
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {  // Z
            return i + 1 == b.count ? 0 : nil
        }
        guard b[i] == 43 || b[i] == 45, let hh = digits(b, i + 1, 2) else { return nil }  // + or -
        let sign = b[i] == 43 ? 1 : -1
        var mm = 0
        if i + 3 < b.count {
            let start = b[i + 3] == 58 ? i + 4 : i + 3  // optional ':'
            guard let m = digits(b, start, 2), start + 2 == b.count else { return nil }
            mm = m
        } else if i + 3 != b.count {
            return nil
        }
        guard hh <= 23, mm <= 59 else { return nil }
        return sign * (hh * 60 + mm)
    }

    /// The decimal number in `b[start..<start+count]`, nil unless all are ASCII digits.
    static func digits(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        guard start >= 0, start + count <= b.count else { return nil }
        var value = 0
        for i in start..<(start + count) {
            guard b[i] >= 48 && b[i] <= 57 else { return nil }
            value = value * 10 + Int(b[i] - 48)
        }
        return value
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffZ` for milliseconds since 1970.
    package static func format(_ millis: Int64) -> String {
        let totalSeconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - totalSeconds * 1000)
        let days = totalSeconds >= 0 ? totalSeconds / 86_400 : (totalSeconds - 86_399) / 86_400
        let secondsOfDay = Int(totalSeconds - days * 86_400)
        let (year, month, day) = CivilCalendar.civilFromDays(Int(days))
        guard (0...9999).contains(year) else {
            // Years of other widths (never an event's): padded as text.
            func pad(_ value: Int, _ width: Int) -> String {
                let text = String(value)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):"
                + "\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(ms, 3))Z"
        }
        // Written as 24 ASCII bytes in place: every ingested event's time is formatted once
        // (string interpolation and padding were 4 % of an ingest).
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                }
            }
            put(year, width: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, width: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, width: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(secondsOfDay / 3600, width: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(secondsOfDay / 60 % 60, width: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(secondsOfDay % 60, width: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(ms, width: 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}
