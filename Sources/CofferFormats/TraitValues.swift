/// Trait values that sources spell in many ways, in one spelling each, so that
/// a segment or a count sees one value where the sources wrote several.
package enum TraitValues {
    /// A gender in one spelling: "F", "Female", "woman" → "female"; "M", "Male",
    /// "man" → "male"; "NB", "nonbinary", "Non Binary" → "non-binary"; any other
    /// value trimmed and lower-cased ("Prefer not to say" → "prefer not to say");
    /// nil for a blank one.
    package static func gender(_ raw: String) -> String? {
        // Values already in their one spelling (all a vault holds since ingest normalises) are
        // returned as they are: splitting and lower-casing cost a twentieth of a build's read.
        switch raw {
        case "female", "male", "non-binary": return raw
        default: break
        }
        let value = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ").lowercased()
        guard !value.isEmpty else { return nil }
        switch value {
        case "f", "female", "woman", "w": return "female"
        case "m", "male", "man": return "male"
        case "nb", "non-binary", "nonbinary", "non binary", "enby": return "non-binary"
        default: return value
        }
    }
}
