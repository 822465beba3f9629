package import CofferStore
import Foundation
package import CofferFormats
package import CofferPolicy

/// A validated, normalised Segment Spec event, ready to append.
package struct SegmentEvent: Sendable {
    /// The log kind (identify, track, page, screen, group, alias).
    package var kind: EventKind
    /// Identifiers the event carries (userId, anonymousId, traits.email, traits.phone, loyalty id).
    package var identifiers: [Identifier]
    /// For `alias`: the previous id, resolved against known user and anonymous ids.
    package var previousID: String?
    /// The sender's message id, if any (dedup key).
    package var messageID: String?
    /// Event time, ms since 1970 UTC.
    package var timestamp: Int64
    /// The normalised event as canonical JSON (sorted keys): what is encrypted into the log.
    package var payload: [UInt8]
    /// Consent carried in `context.consent.categoryPreferences` (category → granted).
    package var consentPreferences: [String: Bool] = [:]
    /// Evidence for that consent: the messageId and the notice version and source the event names.
    package var consentEvidence: [String: String] = [:]
    /// A channel the person left (an unsubscribe, a hard bounce, a spam complaint): no
    /// audience for that channel includes them again (`ChannelOptOut`).
    package var channelOptOut: ChannelOptOut?
    /// The names of the fields in `traits`, `context.traits` and `properties`, for classification.
    package var fieldNames: [String] = []
    /// When the event carried no time and got its receive time: the payload
    /// without that time, so the same record imported again has the same
    /// content key. Nil when the payload itself is the content.
    package var timelessPayload: [UInt8]?
    /// What the parsing thread worked out ahead for the writer (`EventPreparation`); nil when it did not.
    package var prepared: Prepared?

    /// An event's keyed hashes and classification, worked out before the writer needs them.
    package struct Prepared: Sendable {
        /// The dedup key (`DedupIndex.key`).
        package var dedupKey: DedupKey
        /// The tokens of `identifiers`, in order.
        package var tokens: [[UInt8]]
        /// The field names the policy does not classify, as the ingest report counts them.
        package var unclassified: [String]
    }

    /// What dedup keys the event by when it has no messageId: the payload,
    /// without a receive time that differs on every import.
    package var dedupContent: [UInt8] { timelessPayload ?? payload }

    /// The time dedup files the event under (its day, `DedupKey`): its own time, or
    /// none when that is only the receive time, which differs on every import.
    package var dedupTime: Int64? { timelessPayload == nil ? timestamp : nil }
}

/// Validates and normalises Segment Spec events (https://segment.com/docs/connections/spec/).
///
/// Checks: a known `type`; `userId` or `anonymousId`; the fields each type
/// requires (`event` for track, `previousId` for alias, `groupId` for group);
/// object-typed `traits`, `properties`, `context`; ISO-8601 timestamps with a
/// zone; at most 32 KB per event (Segment's limit). Normalises: trims ids,
/// lower-cases emails, E.164 phones, timestamps to UTC with milliseconds.
package struct SegmentParser: Sendable {
    /// Segment's per-event size limit.
    package static let maxEventBytes = 32 * 1024

    static let types: [String: EventKind] = [
        "identify": .identify, "track": .track, "page": .page, "screen": .screen, "group": .group, "alias": .alias,
    ]

    /// When an event has neither `timestamp` nor `sentAt`, this time is used.
    package var receivedAt: Int64
    /// Identifiers a policy declares beyond the built-in ones: where each is and its type.
    package var declaredIdentifiers: [(path: [String], type: IdentifierType)]
    /// Ranges numeric fields must fall in (the defaults, or a policy's `limits:`).
    package var limits: [NumericLimit] { didSet { limitChecker = NumericLimitChecker(limits) } }
    private var limitChecker: NumericLimitChecker

    package init(receivedAt: Int64 = EventLog.now(), declaredIdentifiers: [(path: [String], type: IdentifierType)] = [],
                limits: [NumericLimit] = NumericLimit.defaults) {
        self.receivedAt = receivedAt
        self.declaredIdentifiers = declaredIdentifiers
        self.limits = limits
        limitChecker = NumericLimitChecker(limits)
    }

    /// Parses one JSON record.
    package func parse(_ bytes: [UInt8]) -> Result<SegmentEvent, Rejection> {
        guard bytes.count <= Self.maxEventBytes else {
            return .failure(Rejection("event larger than 32 KB"))
        }
        guard let document = try? JSONReader.document(bytes) else {
            return .failure(Rejection("invalid JSON"))
        }
        guard let object = document.object else {
            return .failure(Rejection("invalid JSON: an event must be an object"))
        }
        return normalise(object)
    }

    /// Validates and normalises an event already read (from JSON, or a mapped CSV row).
    package func normalise(_ input: JSONObject) -> Result<SegmentEvent, Rejection> {
        var event = input
        guard let typeValue = event["type"] else { return .failure(Rejection("missing type")) }
        guard let typeText = typeValue.string?.lowercased() else { return .failure(Rejection("wrong type: type must be a string")) }
        guard let kind = Self.types[typeText] else { return .failure(Rejection("unknown type")) }
        event["type"] = .string(typeText)

        for field in ["traits", "properties", "context", "integrations"] {
            if let value = event[field], value.object == nil {
                return .failure(Rejection("wrong type: \(field) must be an object"))
            }
        }
        var identifiers: [Identifier] = []
        for (field, type) in [("userId", IdentifierType.userID), ("anonymousId", .anonymousID)] {
            guard let value = event[field], !value.isNull else { continue }
            guard let text = Self.idString(value) else {
                return .failure(Rejection("wrong type: \(field) must be a string"))
            }
            let trimmed = text.trimmedWhitespace
            if trimmed.isEmpty {
                event[field] = nil
                continue
            }
            if let rejection = Self.checkLength(trimmed, field: field) { return .failure(rejection) }
            event[field] = .string(trimmed)
            if let identifier = Identifier(type: type, raw: trimmed) { identifiers.append(identifier) }
        }
        guard !identifiers.isEmpty else { return .failure(Rejection("missing userId and anonymousId")) }

        for (field, required) in [("event", kind == .track), ("previousId", kind == .alias), ("groupId", kind == .group)] {
            guard let value = event[field], !value.isNull else {
                if required { return .failure(Rejection("missing \(field) (required for \(typeText))")) }
                continue
            }
            // Segment's spec: `event` is a string; ids may come as integers from some SDKs.
            guard let trimmed = (field == "event" ? value.string : Self.idString(value))?.trimmedWhitespace, !trimmed.isEmpty else {
                return .failure(Rejection("wrong type: \(field) must be a non-empty string"))
            }
            event[field] = .string(trimmed)
            if field == "previousId", let rejection = Self.checkLength(trimmed, field: field) {
                return .failure(rejection)
            }
        }
        for field in ["messageId", "name", "category", "channel", "receivedAt"] {
            if let value = event[field], !value.isNull, value.string == nil {
                return .failure(Rejection("wrong type: \(field) must be a string"))
            }
        }

        // The event's time: `timestamp`, else `originalTimestamp`, else `sentAt`, else when it was received.
        var timestamp: Int64?, sentAt: Int64?
        for field in ["timestamp", "sentAt", "originalTimestamp"] {
            guard let value = event[field], !value.isNull else { continue }
            guard let text = value.string, let millis = Timestamp.parse(text) else {
                return .failure(Rejection("bad timestamp: \(field) is not ISO-8601 with a time zone"))
            }
            event[field] = .string(Timestamp.format(millis))
            if field == "sentAt" { sentAt = millis } else if timestamp == nil { timestamp = millis }
        }
        let time = timestamp ?? sentAt ?? receivedAt
        let timeFromReceipt = timestamp == nil && sentAt == nil

        // Identifiers inside traits (top-level for identify, context.traits for the others).
        var context = event["context"]?.object
        var fieldNames: [String] = []
        func normaliseTraits(_ traits: inout JSONObject) {
            if let email = traits["email"]?.string, let identifier = Identifier(type: .email, raw: email) {
                traits["email"] = .string(identifier.value)
                identifiers.append(identifier)
            }
            if let phone = traits["phone"]?.string, let identifier = Identifier(type: .phone, raw: phone) {
                traits["phone"] = .string(identifier.value)
                identifiers.append(identifier)
            }
            if let gender = traits["gender"]?.string, let normalised = TraitValues.gender(gender) {
                traits["gender"] = .string(normalised)
            }
            for key in ["loyaltyId", "loyalty_id"] {
                if let raw = traits[key].flatMap(Self.idString), let identifier = Identifier(type: .loyaltyID, raw: raw) {
                    identifiers.append(identifier)
                }
            }
            fieldNames.append(contentsOf: traits.keys)
        }
        if var traits = event["traits"]?.object {
            normaliseTraits(&traits)
            event["traits"] = .object(traits)
        }
        if var traits = context?["traits"]?.object {
            normaliseTraits(&traits)
            context?["traits"] = .object(traits)
            event["context"] = context.map(JSONValue.object)
        }

        // Identifiers the policy declares (e.g. traits.crm_id).
        for (path, type) in declaredIdentifiers {
            var node: JSONValue? = .object(event)
            for key in path { node = node?.object?[key] }
            guard let value = node, !value.isNull else { continue }
            guard let raw = Self.idString(value) else {
                return .failure(Rejection("wrong type: \(path.joined(separator: ".")) must be a string (a \(type) identifier)"))
            }
            if let rejection = Self.checkLength(raw.trimmedWhitespace, field: path.joined(separator: ".")) { return .failure(rejection) }
            if let identifier = Identifier(type: type, raw: raw) { identifiers.append(identifier) }
        }

        let properties = event["properties"]?.object
        if let properties { fieldNames.append(contentsOf: properties.keys) }
        if let rejection = limitChecker.violation(in: event) { return .failure(rejection) }

        var preferences: [String: Bool] = [:]
        if let consent = context?["consent"] {
            guard let consent = consent.object else {
                return .failure(Rejection("wrong type: context.consent must be an object"))
            }
            if let categories = consent["categoryPreferences"] {
                guard let categories = categories.object else {
                    return .failure(Rejection("wrong type: context.consent.categoryPreferences must be an object"))
                }
                for (category, value) in categories.members {
                    guard case let .bool(granted) = value else {
                        return .failure(Rejection("wrong type: context.consent.categoryPreferences values must be true or false"))
                    }
                    preferences[category] = granted
                }
            }
        }
        var evidence: [String: String] = [:]
        if !preferences.isEmpty {
            if let messageID = event["messageId"]?.string { evidence["messageId"] = messageID }
            if let properties {
                for (key, name) in [("notice_version", "noticeVersion"), ("noticeVersion", "noticeVersion"),
                                    ("notice_sha256", "noticeSHA256"), ("source", "form")] {
                    if let value = properties[key]?.string { evidence[name] = value }
                }
            }
        }

        let optOut = kind == .track ? event["event"]?.string.flatMap { ChannelOptOut(event: $0, channel: properties?["channel"]?.string) } : nil

        var unique: [Identifier] = []
        for identifier in identifiers where !unique.contains(identifier) { unique.append(identifier) }
        let timeless = timeFromReceipt ? CanonicalJSON.data(.object(event)) : nil
        event["timestamp"] = .string(Timestamp.format(time))
        return .success(SegmentEvent(kind: kind, identifiers: unique,
                                     previousID: kind == .alias ? event["previousId"]?.string : nil,
                                     messageID: event["messageId"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                                     timestamp: time, payload: CanonicalJSON.data(.object(event)),
                                     consentPreferences: preferences, consentEvidence: evidence, channelOptOut: optOut,
                                     fieldNames: fieldNames, timelessPayload: timeless))
    }

    /// Ids that link records must fit `Identifier.maximumLength`; longer ones are refused, not dropped.
    static func checkLength(_ id: String, field: String) -> Rejection? {
        id.count > Identifier.maximumLength
            ? Rejection("identifier too long: \(field) exceeds \(Identifier.maximumLength) characters") : nil
    }

    /// Ids may arrive as strings or (in some SDKs) integers.
    static func idString(_ value: JSONValue) -> String? {
        switch value {
        case let .string(text): return text
        case let .number(number): return number.integerText
        default: return nil
        }
    }
}
