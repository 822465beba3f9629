import CofferCrypto
import CofferStore
public import Foundation
package import Yams
import CofferFormats

/// Reads a policy YAML file into a checked `Policy`. Every mistake is a
/// `PolicyError` naming the file, the line and what was expected; the first
/// one found is reported.
public enum PolicyLoader {
    /// Where the policy comes from when none is named: `$COFFER_POLICY`, else `policies/default.yaml`.
    public static func resolvePath(explicit: String?,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit { return explicit }
        if let fromEnvironment = environment["COFFER_POLICY"], !fromEnvironment.isEmpty { return fromEnvironment }
        return "policies/default.yaml"
    }

    /// Loads and checks the policy file at `path`.
    public static func load(path: String) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw PolicyError(file: path, exists ? "cannot read the policy file"
                : "no policy file here; pass --policy FILE or set COFFER_POLICY (the shipped one is policies/default.yaml)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyError(file: path, "the policy file is not UTF-8 text")
        }
        return try parse(text, file: path, sha256: SHA256.hash(Array(data)).hexString)
    }

    /// Parses policy text; `file` names it in errors.
    public static func parse(_ text: String, file: String, sha256: String? = nil) throws -> Policy {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PolicyError(file: file, line: 1, "the policy file is empty; expected a mapping with purposes, field_classes and access")
            }
            root = node
        } catch let error as YamlError {
            throw yamlError(error, text: text, file: file)
        }
        var reader = PolicyReader(file: file)
        return try reader.policy(root, sha256: sha256 ?? SHA256.hash(Array(text.utf8)).hexString)
    }

    /// Turns Yams' errors into one line with a position.
    package static func yamlError(_ error: YamlError, text: String, file: String) -> PolicyError {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return PolicyError(file: file, line: mark.line, column: mark.column, "not valid YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.sorted().first ?? "?"
            let place = duplicatePlace(of: key, firstLine: context.mark.line, in: text)
            return PolicyError(file: file, line: place.line, column: place.column,
                               "duplicate \(place.what) '\(key)'\(place.firstLine.map { " (first defined at line \($0))" } ?? ""); "
                               + "each may be defined once")
        default:
            return PolicyError(file: file, "not valid YAML: \(error)")
        }
    }

    /// Finds the second definition of a duplicated key and the section it is in.
    private static func duplicatePlace(of key: String, firstLine: Int, in text: String)
        -> (line: Int, column: Int?, what: String, firstLine: Int?) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var hits: [(line: Int, indent: Int)] = []
        for (index, line) in lines.enumerated() {
            let indent = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indent)
            if rest.hasPrefix("\(key):") || rest.hasPrefix("\"\(key)\":") || rest.hasPrefix("'\(key)':") {
                hits.append((index + 1, indent))
            }
        }
        guard hits.count >= 2, let first = hits.first(where: { $0.line >= firstLine }) ?? hits.first,
              let second = hits.first(where: { $0.line > first.line && $0.indent == first.indent }) else {
            return (firstLine, nil, "key", nil)
        }
        // The section: the nearest line above with less indentation.
        var what = "key"
        var index = first.line - 2
        while index >= 0 {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            if indent < first.indent, !line.trimmingCharacters(in: .whitespaces).isEmpty,
               !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
                let section = line.trimmingCharacters(in: .whitespaces).split(separator: ":").first.map(String.init) ?? ""
                what = Self.sectionNames[section] ?? "key in \(section)"
                break
            }
            index -= 1
        }
        if first.indent == 0 { what = "top-level key" }
        return (second.line, second.indent + 1, what, first.line)
    }

    static let sectionNames = ["purposes": "purpose", "field_rules": "field rule", "access": "role", "retention": "retention entry",
                               "field_classes": "field class"]
}

/// Walks the YAML tree, checking as it goes.
struct PolicyReader {
    let file: String

    static let topLevelKeys = ["name", "version", "purposes", "field_classes", "field_rules", "access", "retention",
                               "minimum_group_size", "identifiers", "erasure", "limits", "controller", "data_subjects", "analysis", "activation"]

    func error(_ node: Node?, _ message: String) -> PolicyError {
        PolicyError(file: file, line: node?.mark?.line, column: node?.mark?.column, message)
    }

    /// The pairs of a mapping, keys as strings; `what` names it in errors.
    func mapping(_ node: Node, _ what: String) throws -> [(key: String, keyNode: Node, value: Node)] {
        guard case let .mapping(mapping) = node else { throw error(node, "\(what) must be a mapping (key: value lines)") }
        return try mapping.map { pair in
            guard let key = pair.key.scalar?.string else { throw error(pair.key, "keys in \(what) must be plain names") }
            return (key, pair.key, pair.value)
        }
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard case let .scalar(scalar) = node, !scalar.string.isEmpty else { throw error(node, "\(what) must be a single value") }
        return scalar.string
    }

    func strings(_ node: Node, _ what: String) throws -> [(String, Node)] {
        if case .scalar = node { return [(try string(node, what), node)] }
        guard case let .sequence(sequence) = node else { throw error(node, "\(what) must be a list like [a, b]") }
        return try sequence.map { (try string($0, "each entry of \(what)"), $0) }
    }

    func checkKeys(_ pairs: [(key: String, keyNode: Node, value: Node)], allowed: [String], in what: String) throws {
        for pair in pairs where !allowed.contains(pair.key) {
            throw error(pair.keyNode, "unknown key '\(pair.key)' in \(what); expected one of: \(allowed.joined(separator: ", "))")
        }
    }

    func oneOf<T: RawRepresentable & CaseIterable>(_ node: Node, _ type: T.Type, _ what: String) throws -> T where T.RawValue == String {
        let text = try string(node, what)
        guard let value = T(rawValue: text) else {
            throw error(node, "unknown \(what) '\(text)'; expected one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    mutating func policy(_ root: Node, sha256: String) throws -> Policy {
        let top = try mapping(root, "the policy file")
        try checkKeys(top, allowed: Self.topLevelKeys, in: "the policy file")
        func section(_ name: String) -> Node? { top.first { $0.key == name }?.value }
        for required in ["purposes", "field_classes", "access"] where section(required) == nil {
            throw error(root, "missing '\(required):' section; a policy needs purposes, field_classes and access")
        }
        let purposes = try self.purposes(section("purposes")!)
        let classes = try fieldClasses(section("field_classes")!)
        let rules = try section("field_rules").map { try fieldRules($0, classes: classes) } ?? [:]
        let access = try self.access(section("access")!, purposes: purposes, classes: classes, rules: rules)
        let retention = try section("retention").map(self.retention) ?? [:]
        var minimum = 5
        if let node = section("minimum_group_size") {
            guard let value = node.int, value >= 2 else {
                throw error(node, "minimum_group_size must be a whole number of at least 2")
            }
            minimum = value
        }
        let identifiers = try section("identifiers").map(self.identifiers) ?? []
        var suppress = false
        var remoteDeadline = Policy.defaultRemoteDeleteDeadline
        if let node = section("erasure") {
            let fields = try mapping(node, "erasure")
            try checkKeys(fields, allowed: ["suppress_returning_identifiers", "remote_delete_deadline"], in: "erasure")
            if let value = fields.first(where: { $0.key == "remote_delete_deadline" })?.value {
                guard let duration = PolicyDuration(try string(value, "remote_delete_deadline")), duration.amount > 0 else {
                    throw error(value, "remote_delete_deadline must be a duration like 1d, 2w or 1m")
                }
                remoteDeadline = duration
            }
            if let flag = fields.first(where: { $0.key == "suppress_returning_identifiers" })?.value {
                guard let value = flag.bool else {
                    throw error(flag, "suppress_returning_identifiers must be true or false")
                }
                suppress = value
            }
        }
        let limits = try section("limits").map(self.limits) ?? [:]
        let controller = try section("controller").map(self.controller) ?? Controller()
        let dataSubjects = try section("data_subjects").map { try strings($0, "data_subjects").map(\.0) } ?? []
        var policy = Policy(file: file, sha256: sha256,
                      name: try section("name").map { try string($0, "name") } ?? "unnamed",
                      version: try section("version").map { try string($0, "version") } ?? "1",
                      purposes: purposes, fieldClasses: classes, fieldRules: rules, access: access,
                      retention: retention, minimumGroupSize: minimum, identifiers: identifiers)
        policy.suppressReturningIdentifiers = suppress
        policy.remoteDeleteDeadline = remoteDeadline
        policy.numericLimits = limits
        policy.controller = controller
        policy.dataSubjects = dataSubjects
        policy.analysis = try section("analysis").map { try analysis($0, purposes: purposes) } ?? AnalysisSettings()
        policy.activation = try section("activation").map { try activation($0, purposes: purposes, classes: classes) } ?? ActivationSettings()
        return policy
    }

    func purposes(_ node: Node) throws -> [Purpose] {
        let pairs = try mapping(node, "purposes")
        guard !pairs.isEmpty else { throw error(node, "purposes is empty; declare at least one purpose") }
        return try pairs.map { name, keyNode, value in
            try checkName(name, keyNode, "purpose")
            let fields = try mapping(value, "purpose '\(name)'")
            try checkKeys(fields, allowed: ["description", "lawful_basis", "consent_categories", "consent_valid_for", "recipients", "transfers"],
                          in: "purpose '\(name)'")
            func field(_ key: String) -> Node? { fields.first { $0.key == key }?.value }
            guard let basisNode = field("lawful_basis") else {
                throw error(keyNode, "purpose '\(name)' needs lawful_basis: one of \(LawfulBasis.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let basis = try oneOf(basisNode, LawfulBasis.self, "lawful basis")
            let categories = try field("consent_categories").map { try strings($0, "consent_categories").map(\.0) } ?? [name]
            var validity: PolicyDuration?
            if let node = field("consent_valid_for") {
                guard let duration = PolicyDuration(try string(node, "consent_valid_for")) else {
                    throw error(node, "consent_valid_for must be a duration like 30d, 6w, 24m or 2y")
                }
                validity = duration
            }
            var purpose = Purpose(name: name, description: try field("description").map { try string($0, "description") } ?? "",
                                  lawfulBasis: basis, consentCategories: categories, consentValidFor: validity)
            purpose.recipients = try field("recipients").map { try strings($0, "recipients").map(\.0) } ?? []
            purpose.transfers = try field("transfers").map { try strings($0, "transfers").map(\.0) } ?? []
            return purpose
        }
    }

    func checkName(_ name: String, _ node: Node, _ what: String) throws {
        let ok = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        guard ok, !name.isEmpty else {
            throw error(node, "\(what) name '\(name)' must use only a–z, 0–9, '_' and '-'")
        }
    }

    func fieldClasses(_ node: Node) throws -> [String: Set<FieldClass>] {
        var out: [String: Set<FieldClass>] = [:]
        for (name, keyNode, value) in try mapping(node, "field_classes") {
            guard let fieldClass = FieldClass(rawValue: name) else {
                throw error(keyNode, "unknown field class '\(name)'; expected one of: \(FieldClass.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            for (field, _) in try strings(value, "the fields of \(name)") {
                out[field, default: []].insert(fieldClass)
            }
        }
        return out
    }

    func fieldRules(_ node: Node, classes: [String: Set<FieldClass>]) throws -> [String: FieldRule] {
        var out: [String: FieldRule] = [:]
        for (field, keyNode, value) in try mapping(node, "field_rules") {
            guard classes[field] != nil else {
                throw error(keyNode, "field_rules has a rule for '\(field)', which is in no field class; add it to field_classes")
            }
            let pairs = try mapping(value, "the rule for '\(field)'")
            try checkKeys(pairs, allowed: ["generalise", "truncate"], in: "the rule for '\(field)'")
            var rule = FieldRule()
            for (key, _, ruleNode) in pairs {
                if key == "truncate" {
                    guard let length = ruleNode.int, length > 0 else {
                        throw error(ruleNode, "truncate for '\(field)' must be a positive number of characters to keep")
                    }
                    rule.truncate = length
                } else {
                    rule.generalise = try generalisation(ruleNode, field: field)
                }
            }
            out[field] = rule
        }
        return out
    }

    func generalisation(_ node: Node, field: String) throws -> Generalisation {
        let text = try string(node, "generalise for '\(field)'")
        let words = text.split(separator: " ")
        switch words.first {
        case "band":
            guard words.count == 2, let width = Int(words[1]), width > 0 else {
                throw error(node, "generalise for '\(field)': expected 'band N' with N a positive number, e.g. band 10")
            }
            return .band(width)
        case "round":
            guard words.count == 2, let step = Double(words[1]), step.isFinite, step > 0 else {
                throw error(node, "generalise for '\(field)': expected 'round N' with N a positive number, e.g. round 10")
            }
            return .round(step)
        case "month" where words.count == 1: return .month
        case "year" where words.count == 1: return .year
        case "date" where words.count == 1, "day" where words.count == 1: return .date
        case "week" where words.count == 1: return .week
        case "keep" where words.count == 1: return .keep
        default:
            throw error(node, "unknown generalisation '\(text)' for '\(field)'; expected band N, round N, month, year, date (or day), "
                + "week or keep")
        }
    }

    func access(_ node: Node, purposes: [Purpose], classes: [String: Set<FieldClass>],
                rules: [String: FieldRule]) throws -> [Role: RoleAccess] {
        var out: [Role: RoleAccess] = [:]
        for (roleName, keyNode, value) in try mapping(node, "access") {
            guard let role = Role(rawValue: roleName) else {
                throw error(keyNode, "unknown role '\(roleName)'; expected one of: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let pairs = try mapping(value, "access for \(roleName)")
            try checkKeys(pairs, allowed: ["purposes", "deny_fields"], in: "access for \(roleName)")
            var access = RoleAccess(purposes: [:], denyFields: [])
            for (key, _, sectionNode) in pairs {
                if key == "deny_fields" {
                    access.denyFields = Set(try strings(sectionNode, "deny_fields").map(\.0))
                    continue
                }
                for (purposeName, purposeNode, classMap) in try mapping(sectionNode, "purposes of \(roleName)") {
                    guard purposes.contains(where: { $0.name == purposeName }) else {
                        throw error(purposeNode, "access for \(roleName) names purpose '\(purposeName)', which is not declared under purposes; "
                            + "declared: \(purposes.map(\.name).joined(separator: ", "))")
                    }
                    var transforms: [FieldClass: Transform] = [:]
                    for (className, classNode, transformNode) in try mapping(classMap, "\(roleName).\(purposeName)") {
                        guard let fieldClass = FieldClass(rawValue: className) else {
                            throw error(classNode, "unknown field class '\(className)'; expected one of: "
                                + FieldClass.allCases.map(\.rawValue).joined(separator: ", "))
                        }
                        let transform = try oneOf(transformNode, Transform.self, "transform")
                        try checkRules(for: transform, fieldClass: fieldClass, classes: classes, rules: rules, at: transformNode,
                                       where: "\(roleName).\(purposeName)")
                        transforms[fieldClass] = transform
                    }
                    access.purposes[purposeName] = transforms
                }
            }
            out[role] = access
        }
        return out
    }

    /// `generalise` and `truncate` need a rule for every field of the class.
    func checkRules(for transform: Transform, fieldClass: FieldClass, classes: [String: Set<FieldClass>],
                    rules: [String: FieldRule], at node: Node, where place: String) throws {
        guard transform == .generalise || transform == .truncate else { return }
        let fields = classes.filter { $0.value.contains(fieldClass) }.keys.sorted()
        for field in fields {
            let rule = rules[field]
            if transform == .generalise, rule?.generalise == nil {
                throw error(node, "\(place) gives \(fieldClass.rawValue) 'generalise', but field '\(field)' has no generalise rule; "
                    + "add 'field_rules: { \(field): { generalise: … } }' (band N, month, year, date or keep)")
            }
            if transform == .truncate, rule?.truncate == nil {
                throw error(node, "\(place) gives \(fieldClass.rawValue) 'truncate', but field '\(field)' has no truncate rule; "
                    + "add 'field_rules: { \(field): { truncate: N } }'")
            }
        }
    }

    /// `controller: { name: …, contact: …, dpo: { name: …, contact: … }, owner_acts_as_dpo: false }`.
    func controller(_ node: Node) throws -> Controller {
        let fields = try mapping(node, "controller")
        try checkKeys(fields, allowed: ["name", "contact", "dpo", "owner_acts_as_dpo"], in: "controller")
        var controller = Controller()
        for (key, _, value) in fields {
            switch key {
            case "name": controller.name = try string(value, "controller name")
            case "contact": controller.contact = try string(value, "controller contact")
            case "owner_acts_as_dpo":
                guard let flag = value.bool else { throw error(value, "owner_acts_as_dpo must be true or false") }
                controller.ownerActsAsDPO = flag
            default:
                let dpo = try mapping(value, "controller dpo")
                try checkKeys(dpo, allowed: ["name", "contact"], in: "controller dpo")
                for (dpoKey, _, dpoValue) in dpo {
                    if dpoKey == "name" { controller.dpoName = try string(dpoValue, "DPO name") }
                    else { controller.dpoContact = try string(dpoValue, "DPO contact") }
                }
            }
        }
        return controller
    }

    /// `limits: { traits.age: [0, 150], properties.revenue: [-10000, 10000] }`.
    func analysis(_ node: Node, purposes: [Purpose]) throws -> AnalysisSettings {
        let fields = try mapping(node, "analysis")
        try checkKeys(fields, allowed: ["purchase_events", "refund_events", "annual_discount_rate", "recommendations_purpose", "time_zone"], in: "analysis")
        var settings = AnalysisSettings()
        for (key, _, value) in fields {
            switch key {
            case "purchase_events", "refund_events":
                let names = try strings(value, key).map(\.0)
                guard !names.isEmpty else { throw error(value, "\(key) must name at least one track event") }
                if key == "purchase_events" { settings.purchaseEvents = names } else { settings.refundEvents = names }
            case "annual_discount_rate":
                guard let rate = value.float, rate.isFinite, rate >= 0, rate < 1 else {
                    throw error(value, "annual_discount_rate must be a number from 0 to below 1, such as 0.1 for 10 % a year")
                }
                settings.annualDiscountRate = rate
            case "time_zone":
                let name = try string(value, key)
                guard name == "UTC" || (name.contains("/") && TimeZone(identifier: name) != nil) else {
                    throw error(value, "time_zone '\(name)' is not a zone this system knows; use an IANA name such as Europe/London, or UTC")
                }
                settings.timeZone = name
            default:
                let name = try string(value, key)
                guard let purpose = purposes.first(where: { $0.name == name }) else {
                    throw error(value, "recommendations_purpose '\(name)' is not a declared purpose; declared: \(purposes.map(\.name).joined(separator: ", "))")
                }
                guard purpose.needsConsent else {
                    throw error(value, "recommendations_purpose '\(name)' rests on \(purpose.lawfulBasis.rawValue); recommendations need a purpose based on consent")
                }
                settings.recommendationsPurpose = name
            }
        }
        let both = Set(settings.purchaseEvents.map { $0.lowercased() }).intersection(settings.refundEvents.map { $0.lowercased() })
        if let name = both.sorted().first { throw error(node, "analysis: '\(name)' is both a purchase event and a refund event") }
        return settings
    }

    func activation(_ node: Node, purposes: [Purpose], classes: [String: Set<FieldClass>]) throws -> ActivationSettings {
        let fields = try mapping(node, "activation")
        try checkKeys(fields, allowed: ["purpose", "channels", "frequency_cap", "destinations"], in: "activation")
        var settings = ActivationSettings()
        func consentPurpose(_ value: Node, _ what: String) throws -> String {
            let name = try string(value, what)
            guard let purpose = purposes.first(where: { $0.name == name }) else {
                throw error(value, "\(what) '\(name)' is not a declared purpose; declared: \(purposes.map(\.name).joined(separator: ", "))")
            }
            guard purpose.needsConsent else { throw error(value, "\(what) '\(name)' rests on \(purpose.lawfulBasis.rawValue); activation needs consent") }
            return name
        }
        for (key, _, value) in fields {
            switch key {
            case "purpose":
                settings.purpose = try consentPurpose(value, "activation purpose")
            case "channels":
                for (name, keyNode, channel) in try mapping(value, "activation channels") {
                    let kind = try oneOf(keyNode, ActivationSettings.Channel.self, "channel")
                    let options = try mapping(channel, "channel \(name)")
                    try checkKeys(options, allowed: ["consent"], in: "channel \(name)")
                    if let consent = options.first(where: { $0.key == "consent" })?.value {
                        settings.channelConsents[kind] = try consentPurpose(consent, "the consent of channel \(name)")
                    }
                }
            case "frequency_cap":
                // "2 per 7d": at most 2 messages a person in any 7 days.
                let text = try string(value, "frequency_cap")
                let parts = text.split(separator: " ")
                guard parts.count == 3, parts[1] == "per", let count = Int(parts[0]), count > 0, let window = PolicyDuration(String(parts[2])) else {
                    throw error(value, "frequency_cap must read like '2 per 7d': at most 2 messages a person in any 7 days")
                }
                settings.frequencyCap = count
                settings.capWindow = window
            default:
                for (name, _, destination) in try mapping(value, "activation destinations") {
                    let options = try mapping(destination, "destination \(name)")
                    try checkKeys(options, allowed: ["channel", "format", "fields", "url", "secret_env"], in: "destination \(name)")
                    func option(_ key: String) throws -> Node {
                        guard let node = options.first(where: { $0.key == key })?.value else {
                            throw error(destination, "destination \(name) needs \(key):")
                        }
                        return node
                    }
                    let channel = try oneOf(try option("channel"), ActivationSettings.Channel.self, "channel")
                    let format = try oneOf(try option("format"), ActivationSettings.Format.self, "format")
                    let names = try strings(try option("fields"), "fields of destination \(name)")
                    for field in format.requiredFields where !names.contains(where: { $0.0 == field }) {
                        throw error(destination, "destination \(name): the \(format.rawValue) format needs '\(field)' among its fields")
                    }
                    for (field, fieldNode) in names where classes[field] == nil {
                        throw error(fieldNode, "destination \(name): '\(field)' is in no field class, so no role may send it")
                    }
                    var url: String?, secret: String?
                    if let node = options.first(where: { $0.key == "url" })?.value {
                        let text = try string(node, "url of destination \(name)")
                        guard format == .json, let parsed = URL(string: text), ["https", "http"].contains(parsed.scheme ?? "") else {
                            throw error(node, "destination \(name): url must be an https:// (or http://) address, with format: json")
                        }
                        guard let env = options.first(where: { $0.key == "secret_env" })?.value else {
                            throw error(node, "destination \(name): a webhook needs secret_env: naming the variable that holds its signing secret")
                        }
                        url = text
                        secret = try string(env, "secret_env of destination \(name)")
                    }
                    settings.destinations.append(.init(name: name, channel: channel, format: format, fields: names.map(\.0),
                                                       url: url, secretEnvironment: secret))
                }
            }
        }
        return settings
    }

    func limits(_ node: Node) throws -> [String: ClosedRange<Double>] {
        var out: [String: ClosedRange<Double>] = [:]
        for (field, keyNode, value) in try mapping(node, "limits") {
            let parts = field.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 2, ["traits", "properties", "context"].contains(String(parts[0])), !parts.contains(where: \.isEmpty) else {
                throw error(keyNode, "limits: '\(field)' must name a field path such as traits.age or properties.revenue")
            }
            guard case let .sequence(bounds) = value, bounds.count == 2,
                  let low = bounds[0].float, let high = bounds[1].float, low.isFinite, high.isFinite, low <= high else {
                throw error(value, "limits: '\(field)' must be [LOW, HIGH], two finite numbers with LOW <= HIGH")
            }
            out[field] = low...high
        }
        return out
    }

    func retention(_ node: Node) throws -> [String: PolicyDuration] {
        var out: [String: PolicyDuration] = [:]
        let allowed = EventKind.allCases.map(\.rawValue) + ["default", "quarantine"]
        for (kind, keyNode, value) in try mapping(node, "retention") {
            guard allowed.contains(kind) else {
                throw error(keyNode, "unknown event kind '\(kind)' in retention; expected one of: \(allowed.joined(separator: ", "))")
            }
            guard let duration = PolicyDuration(try string(value, "retention for \(kind)")) else {
                throw error(value, "retention for \(kind) must be a duration like 30d, 6w, 13m or 2y")
            }
            out[kind] = duration
        }
        return out
    }

    func identifiers(_ node: Node) throws -> [DeclaredIdentifier] {
        guard case let .sequence(sequence) = node else {
            throw error(node, "identifiers must be a list of { field: traits.NAME, type: NAME }")
        }
        let builtIn = IdentifierType.builtIn.map(\.rawValue)
        var seen: Set<String> = []
        return try sequence.map { item in
            let pairs = try mapping(item, "an identifier")
            try checkKeys(pairs, allowed: ["field", "type"], in: "an identifier")
            guard let fieldNode = pairs.first(where: { $0.key == "field" })?.value,
                  let typeNode = pairs.first(where: { $0.key == "type" })?.value else {
                throw error(item, "an identifier needs both field: (e.g. traits.crm_id) and type: (e.g. crm)")
            }
            let path = try string(fieldNode, "field").split(separator: ".").map(String.init)
            let validPrefix = (path.count == 2 && ["traits", "properties"].contains(path[0]))
                || (path.count == 3 && path[0] == "context" && path[1] == "traits")
            guard validPrefix else {
                throw error(fieldNode, "identifier field must be traits.NAME, context.traits.NAME or properties.NAME")
            }
            let type = try string(typeNode, "type")
            guard IdentifierType(rawValue: type) != nil else {
                throw error(typeNode, "identifier type '\(type)' must start with a–z and use only a–z, 0–9, '_' and '-' (at most 32)")
            }
            guard !builtIn.contains(type) else {
                throw error(typeNode, "identifier type '\(type)' is built in; declared identifiers need a new type name")
            }
            guard seen.insert(type).inserted else { throw error(typeNode, "duplicate identifier type '\(type)'") }
            return DeclaredIdentifier(path: path, type: type)
        }
    }
}
