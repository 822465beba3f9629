import CofferStore
import Foundation

/// A validated, normalised Segment Spec event, ready to append.
public struct SegmentEvent: @unchecked Sendable {
    /// The log kind (identify, track, page, screen, group, alias).
    public var kind: EventKind
    /// Identifiers the event carries (userId, anonymousId, traits.email, traits.phone, loyalty id).
    public var identifiers: [Identifier]
    /// For `alias`: the previous id, resolved against known user and anonymous ids.
    public var previousID: String?
    /// The sender's message id, if any (dedup key).
    public var messageID: String?
    /// Event time, ms since 1970 UTC.
    public var timestamp: Int64
    /// The normalised event as canonical JSON (sorted keys): what is encrypted into the log.
    public var payload: [UInt8]
    /// Consent carried in `context.consent.categoryPreferences` (category → granted).
    public var consentPreferences: [String: Bool] = [:]
    /// Evidence for that consent: the messageId and the notice version and source the event names.
    public var consentEvidence: [String: String] = [:]
    /// The names of the fields in `traits`, `context.traits` and `properties`, for classification.
    public var fieldNames: [String] = []
}

/// Validates and normalises Segment Spec events (https://segment.com/docs/connections/spec/).
///
/// Checks: a known `type`; `userId` or `anonymousId`; the fields each type
/// requires (`event` for track, `previousId` for alias, `groupId` for group);
/// object-typed `traits`, `properties`, `context`; ISO-8601 timestamps with a
/// zone; at most 32 KB per event (Segment's limit). Normalises: trims ids,
/// lower-cases emails, E.164 phones, timestamps to UTC with milliseconds.
public struct SegmentParser: Sendable {
    /// Segment's per-event size limit.
    public static let maxEventBytes = 32 * 1024

    static let types: [String: EventKind] = [
        "identify": .identify, "track": .track, "page": .page, "screen": .screen, "group": .group, "alias": .alias,
    ]

    /// When an event has neither `timestamp` nor `sentAt`, this time is used.
    public var receivedAt: Int64
    /// Identifiers a policy declares beyond the built-in ones: where each is and its type.
    public var declaredIdentifiers: [(path: [String], type: IdentifierType)]

    public init(receivedAt: Int64 = EventLog.now(), declaredIdentifiers: [(path: [String], type: IdentifierType)] = []) {
        self.receivedAt = receivedAt
        self.declaredIdentifiers = declaredIdentifiers
    }

    /// Parses one JSON record.
    public func parse(_ bytes: [UInt8]) -> Result<SegmentEvent, Rejection> {
        guard bytes.count <= Self.maxEventBytes else {
            return .failure(Rejection("event larger than 32 KB"))
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            return .failure(Rejection("invalid JSON"))
        }
        guard let dictionary = object as? [String: Any] else {
            return .failure(Rejection("invalid JSON: an event must be an object"))
        }
        return normalise(dictionary)
    }

    /// Validates and normalises an event already in dictionary form (JSON, or a mapped CSV row).
    public func normalise(_ input: [String: Any]) -> Result<SegmentEvent, Rejection> {
        var event = input
        guard let typeValue = event["type"] else { return .failure(Rejection("missing type")) }
        guard let typeText = typeValue as? String else { return .failure(Rejection("wrong type: type must be a string")) }
        guard let kind = Self.types[typeText.lowercased()] else { return .failure(Rejection("unknown type")) }
        event["type"] = typeText.lowercased()

        for field in ["traits", "properties", "context"] {
            if let value = event[field], !(value is [String: Any]) {
                return .failure(Rejection("wrong type: \(field) must be an object"))
            }
        }
        var identifiers: [Identifier] = []
        for (field, type) in [("userId", IdentifierType.userID), ("anonymousId", .anonymousID)] {
            guard let value = event[field], !(value is NSNull) else { continue }
            guard let text = Self.idString(value) else {
                return .failure(Rejection("wrong type: \(field) must be a string"))
            }
            let trimmed = text.trimmedWhitespace
            if trimmed.isEmpty {
                event.removeValue(forKey: field)
                continue
            }
            if let rejection = Self.checkLength(trimmed, field: field) { return .failure(rejection) }
            event[field] = trimmed
            if let identifier = Identifier(type: type, raw: trimmed) { identifiers.append(identifier) }
        }
        guard !identifiers.isEmpty else { return .failure(Rejection("missing userId and anonymousId")) }

        for (field, required) in [("event", kind == .track), ("previousId", kind == .alias), ("groupId", kind == .group)] {
            let value = event[field]
            if value == nil || value is NSNull {
                if required { return .failure(Rejection("missing \(field) (required for \(typeText.lowercased()))")) }
                continue
            }
            guard let text = Self.idString(value!), !text.trimmedWhitespace.isEmpty else {
                return .failure(Rejection("wrong type: \(field) must be a non-empty string"))
            }
            event[field] = text.trimmedWhitespace
            if field == "previousId", let rejection = Self.checkLength(text.trimmedWhitespace, field: field) {
                return .failure(rejection)
            }
        }
        for field in ["messageId", "name"] {
            if let value = event[field], !(value is NSNull), !(value is String) {
                return .failure(Rejection("wrong type: \(field) must be a string"))
            }
        }

        // The event's time: `timestamp`, else `originalTimestamp`, else `sentAt`, else when it was received.
        var timestamp: Int64?, sentAt: Int64?
        for field in ["timestamp", "sentAt", "originalTimestamp"] {
            guard let value = event[field], !(value is NSNull) else { continue }
            guard let text = value as? String, let millis = Timestamp.parse(text) else {
                return .failure(Rejection("bad timestamp: \(field) is not ISO-8601 with a time zone"))
            }
            event[field] = Timestamp.format(millis)
            if field == "sentAt" { sentAt = millis } else if timestamp == nil { timestamp = millis }
        }
        let time = timestamp ?? sentAt ?? receivedAt
        event["timestamp"] = Timestamp.format(time)

        // Identifiers inside traits (top-level for identify, context.traits for the others).
        var traitSets: [(path: [String], traits: [String: Any])] = []
        if let traits = event["traits"] as? [String: Any] { traitSets.append((["traits"], traits)) }
        if let context = event["context"] as? [String: Any], let traits = context["traits"] as? [String: Any] {
            traitSets.append((["context", "traits"], traits))
        }
        for (path, var traits) in traitSets {
            if let email = traits["email"] as? String {
                if let identifier = Identifier(type: .email, raw: email) {
                    traits["email"] = identifier.value
                    identifiers.append(identifier)
                }
            }
            if let phone = traits["phone"] as? String, let identifier = Identifier(type: .phone, raw: phone) {
                traits["phone"] = identifier.value
                identifiers.append(identifier)
            }
            for key in ["loyaltyId", "loyalty_id"] {
                if let raw = traits[key].flatMap(Self.idString), let identifier = Identifier(type: .loyaltyID, raw: raw) {
                    identifiers.append(identifier)
                }
            }
            if path.count == 1 {
                event["traits"] = traits
            } else if var context = event["context"] as? [String: Any] {
                context["traits"] = traits
                event["context"] = context
            }
        }

        // Identifiers the policy declares (e.g. traits.crm_id).
        for (path, type) in declaredIdentifiers {
            var node: Any? = event
            for key in path { node = (node as? [String: Any])?[key] }
            guard let value = node, !(value is NSNull) else { continue }
            guard let raw = Self.idString(value) else {
                return .failure(Rejection("wrong type: \(path.joined(separator: ".")) must be a string (a \(type) identifier)"))
            }
            if let rejection = Self.checkLength(raw.trimmedWhitespace, field: path.joined(separator: ".")) { return .failure(rejection) }
            if let identifier = Identifier(type: type, raw: raw) { identifiers.append(identifier) }
        }

        var fieldNames: [String] = []
        for (_, traits) in traitSets { fieldNames.append(contentsOf: traits.keys) }
        if let properties = event["properties"] as? [String: Any] { fieldNames.append(contentsOf: properties.keys) }

        var preferences: [String: Bool] = [:]
        if let context = event["context"] as? [String: Any], let consent = context["consent"] {
            guard let consent = consent as? [String: Any] else {
                return .failure(Rejection("wrong type: context.consent must be an object"))
            }
            if let categories = consent["categoryPreferences"] {
                guard let categories = categories as? [String: Any] else {
                    return .failure(Rejection("wrong type: context.consent.categoryPreferences must be an object"))
                }
                for (category, value) in categories {
                    guard let granted = Self.jsonBool(value) else {
                        return .failure(Rejection("wrong type: context.consent.categoryPreferences values must be true or false"))
                    }
                    preferences[category] = granted
                }
            }
        }
        var evidence: [String: String] = [:]
        if !preferences.isEmpty {
            if let messageID = event["messageId"] as? String { evidence["messageId"] = messageID }
            if let properties = event["properties"] as? [String: Any] {
                for (key, name) in [("notice_version", "noticeVersion"), ("noticeVersion", "noticeVersion"),
                                    ("notice_sha256", "noticeSHA256"), ("source", "form")] {
                    if let value = properties[key] as? String { evidence[name] = value }
                }
            }
        }

        let payload: [UInt8]
        do {
            payload = try CanonicalJSON.data(event)
        } catch let rejection as Rejection {
            return .failure(rejection)
        } catch {
            return .failure(Rejection("invalid JSON: values cannot be encoded"))
        }
        var unique: [Identifier] = []
        for identifier in identifiers where !unique.contains(identifier) { unique.append(identifier) }
        return .success(SegmentEvent(kind: kind, identifiers: unique,
                                     previousID: kind == .alias ? event["previousId"] as? String : nil,
                                     messageID: (event["messageId"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                                     timestamp: time, payload: payload, consentPreferences: preferences,
                                     consentEvidence: evidence, fieldNames: fieldNames))
    }

    /// Ids that link records must fit `Identifier.maximumLength`; longer ones are refused, not dropped.
    static func checkLength(_ id: String, field: String) -> Rejection? {
        id.count > Identifier.maximumLength
            ? Rejection("identifier too long: \(field) exceeds \(Identifier.maximumLength) characters") : nil
    }

    /// A JSON boolean, whether a Swift `Bool` or what JSONSerialization returns
    /// (an NSNumber whose type code is `c` or `B`; numbers 0 and 1 are not booleans).
    static func jsonBool(_ value: Any) -> Bool? {
        if type(of: value) == Bool.self { return value as? Bool }
        if let number = value as? NSNumber, [0x63, 0x42].contains(number.objCType.pointee) { return number.boolValue }
        return nil
    }

    /// Ids may arrive as strings or (in some SDKs) integers.
    static func idString(_ value: Any) -> String? {
        if let text = value as? String { return text }
        if value is Bool { return nil }
        if let int = value as? Int { return String(int) }
        return nil
    }
}
