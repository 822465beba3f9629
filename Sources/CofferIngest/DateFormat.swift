import CofferFormats
import CofferStore

/// A CSV mapping's `date_format`, for tills that do not write ISO-8601: strptime's
/// directives `%Y` (4-digit year), `%y` (2-digit, 2000–2099), `%m`, `%d`, `%H`,
/// `%M`, `%S` (1 or 2 digits) and `%%`; any other character must appear as is.
/// A date alone is midnight.
package struct DateFormat: Sendable, Equatable {
    private enum Piece: Sendable, Equatable {
        case field(Character)
        case literal(Character)
    }

    private let pieces: [Piece]

    /// nil for a directive it does not know, or a format without a year, month and day.
    package init?(_ format: String) {
        var pieces: [Piece] = [], directive = false
        for character in format {
            if directive {
                directive = false
                if character == "%" { pieces.append(.literal("%")); continue }
                guard "YymdHMS".contains(character) else { return nil }
                pieces.append(.field(character))
            } else if character == "%" {
                directive = true
            } else {
                pieces.append(.literal(character))
            }
        }
        let fields = Set(pieces.compactMap { if case let .field(f) = $0 { f } else { nil } })
        guard !directive, fields.contains("m"), fields.contains("d"), fields.contains("Y") || fields.contains("y") else { return nil }
        self.pieces = pieces
    }

    /// The wall-clock time of `text` as milliseconds since 1970 read as if UTC (the
    /// mapping's zone turns it into an instant); nil when it does not match.
    package func local(_ text: String) -> Int64? {
        var characters = Substring(text.trimmedWhitespace)
        var values: [Character: Int] = [:]
        for piece in pieces {
            switch piece {
            case let .literal(expected):
                guard characters.first == expected else { return nil }
                characters.removeFirst()
            case let .field(field):
                let most = field == "Y" ? 4 : 2
                let digits = characters.prefix(most).prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, field != "Y" || digits.count == 4, let value = Int(digits) else { return nil }
                values[field] = value
                characters.removeFirst(digits.count)
            }
        }
        guard characters.isEmpty, let month = values["m"], let day = values["d"], let year = values["Y"] ?? values["y"].map({ 2000 + $0 }),
              (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(day) else { return nil }
        let hour = values["H"] ?? 0, minute = values["M"] ?? 0, second = values["S"] ?? 0
        guard hour < 24, minute < 60, second < 60 else { return nil }
        let days = Int64(CivilCalendar.daysFromCivil(year: year, month: month, day: day))
        return ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000
    }
}
