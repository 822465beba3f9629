import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation

/// The files receiving tools take, as they document them. Only the
/// destination's fields are written.
enum AudienceFile {
    static func text(_ member: ActivationSubjects.Member, _ field: String) -> String? {
        guard let cell = member.values[field], cell != .null else { return nil }
        let text = cell.description
        return text.isEmpty ? nil : text
    }

    /// The member with their email and phone in normalised form (trimmed and lower-cased;
    /// E.164), done once before the file is written; nil when nothing this format can
    /// reach them at is left (`.noAddress`).
    static func prepared(_ member: ActivationSubjects.Member, format: ActivationSettings.Format) -> ActivationSubjects.Member? {
        var member = member
        for (field, type) in [("email", IdentifierType.email), ("phone", IdentifierType.phone)] where member.values[field] != nil {
            member.values[field] = text(member, field).flatMap { Identifier(type: type, raw: $0)?.value }.map(Cell.text) ?? .null
        }
        let reachable: Bool
        switch format {
        case .emailCSV: reachable = email(member) != nil
        case .sms: reachable = phone(member) != nil
        case .push: reachable = text(member, "device_token") != nil
        case .ads: reachable = email(member) != nil || phone(member) != nil
        case .json: reachable = true
        }
        return reachable ? member : nil
    }

    /// A prepared member's email and phone (E.164, `+` and digits).
    static func email(_ member: ActivationSubjects.Member) -> String? { text(member, "email") }
    static func phone(_ member: ActivationSubjects.Member) -> String? { text(member, "phone") }

    static func render(_ members: [ActivationSubjects.Member], segment: String, destination: ActivationSettings.Destination,
                       variants: [Campaign.Variant]? = nil) throws -> [UInt8] {
        let fields = destination.fields
        func content(_ member: ActivationSubjects.Member) -> String {
            variants?.first { $0.name == member.variant }?.content ?? ""
        }
        var lines: [String] = []
        switch destination.format {
        case .emailCSV:
            // Mailchimp's and Brevo's import columns; other fields as merge fields (BIRTHDAY_MONTH …); the segment as a tag.
            let named: [(field: String, header: String)] = [("email", "Email Address"), ("first_name", "First Name"), ("last_name", "Last Name")]
                .filter { fields.contains($0.0) }
            let merge = fields.filter { field in !named.contains { $0.field == field } }
            let campaign = variants == nil ? [] : ["VARIANT", "OFFER"]
            lines.append((named.map(\.header) + merge.map { $0.uppercased() } + campaign + ["Tags"]).map(csv).joined(separator: ","))
            for member in members {
                let values = named.map { $0.field == "email" ? email(member) ?? "" : text(member, $0.field) ?? "" }
                    + merge.map { text(member, $0) ?? "" } + (variants == nil ? [] : [member.variant ?? "", content(member)]) + [segment]
                lines.append(values.map(csv).joined(separator: ","))
            }
        case .sms:
            lines = members.compactMap(phone)
        case .push:
            lines = members.compactMap { text($0, "device_token") }
        case .ads:
            // SHA-256 hex of the normalised identifier, no clear value: email trimmed and lower-cased,
            // phone as its E.164 digits (country code, no +), the form Google Customer Match and Meta take.
            let columns = ["email", "phone"].filter(fields.contains)
            lines.append(columns.joined(separator: ","))
            for member in members {
                let values = try columns.map { column -> String in
                    let clear = column == "email" ? email(member) : phone(member).map { String($0.dropFirst()) }
                    return try clear.map { try SHA256.hash(Array($0.utf8)).hexString } ?? ""
                }
                lines.append(values.joined(separator: ","))
            }
        case .json:
            let objects: [[String: Any]] = members.map { member in
                var object: [String: Any] = [:]
                for field in fields { if let value = text(member, field) { object[field] = value } }
                if let variant = member.variant {
                    object["variant"] = variant
                    object["offer"] = content(member)
                }
                return object
            }
            return try CanonicalJSON.data(["segment": segment, "destination": destination.name, "members": objects] as [String: Any]) + [0x0a]
        }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    static func csv(_ value: String) -> String {
        value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }
}
