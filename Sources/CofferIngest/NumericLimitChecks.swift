import CofferFormats
import CofferPolicy
import CofferStore

extension NumericLimit {
    /// Why `event` breaks this limit, or nil. Numbers and numeric strings
    /// (which the build would read as numbers) are both checked.
    func violation(in event: JSONObject) -> Rejection? {
        for path in paths {
            var node: JSONValue? = .object(event)
            for key in path { node = node?.object?[key] }
            let number: Double?
            switch node {
            case let .number(value)?: number = Double(value.text)
            case let .string(text)?: number = Double(text.trimmedWhitespace)
            default: number = nil
            }
            guard let number else { continue }
            if let reason = check(number, at: path.joined(separator: ".")) { return Rejection(reason) }
        }
        return nil
    }
}
