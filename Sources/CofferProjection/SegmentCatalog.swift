package import CofferPolicy
import Foundation
import Yams

/// A named segment: who matches its rule in the single view.
package struct SegmentDefinition: Sendable, Equatable {
    package var name: String
    package var description: String
    /// The rule as written, and parsed.
    package var text: String
    package var rule: SegmentRule
}

/// Segment definitions from YAML (`policies/segments.yaml` by default):
///
/// ```yaml
/// segments:
///   loyal_regulars:
///     description: Shop often and spend well.
///     rule: shop_times >= 10 and avg_spend > 15
/// ```
package enum SegmentCatalog {
    /// `explicit`, else `$COFFER_SEGMENTS`, else `segments.yaml` beside the policy file.
    package static func resolvePath(explicit: String?, policyPath: String,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit { return explicit }
        if let path = environment["COFFER_SEGMENTS"], !path.isEmpty { return path }
        return URL(fileURLWithPath: policyPath).deletingLastPathComponent().appendingPathComponent("segments.yaml").path
    }

    /// The fields rules may use: the single view's, plus a consent column per consent-based purpose.
    package static func fields(for policy: Policy) -> Set<String> {
        Set(SingleViewColumn.names + policy.purposes.filter(\.needsConsent).map { SingleView.consentColumn($0.name) })
    }

    /// Loads and checks the file; a missing file is an empty catalog only when `required` is false.
    package static func load(path: String, policy: Policy, required: Bool = false) throws -> [SegmentDefinition] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if !required && !FileManager.default.fileExists(atPath: path) { return [] }
            throw PolicyError(file: path, "cannot read the segment definitions")
        }
        return try parse(text, file: path, fields: fields(for: policy))
    }

    package static func parse(_ text: String, file: String, fields: Set<String>) throws -> [SegmentDefinition] {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return [] }
            root = node
        } catch let error as YamlError {
            throw PolicyLoader.yamlError(error, text: text, file: file)
        }
        func fail(_ node: Node?, _ message: String) -> PolicyError {
            PolicyError(file: file, line: node?.mark?.line, column: node?.mark?.column, message)
        }
        guard case let .mapping(top) = root, let segmentsNode = top.first(where: { $0.key.string == "segments" })?.value else {
            throw fail(root, "expected a 'segments:' mapping of name → { description, rule }")
        }
        if let other = top.first(where: { $0.key.string != "segments" }) {
            throw fail(other.key, "unknown key '\(other.key.string ?? "?")'; the file holds only 'segments:'")
        }
        guard case let .mapping(segments) = segmentsNode else { throw fail(segmentsNode, "segments must be a mapping of name → { description, rule }") }
        return try segments.map { pair in
            guard let name = pair.key.string, !name.isEmpty,
                  name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }) else {
                throw fail(pair.key, "segment names use only a–z, 0–9, '_' and '-'")
            }
            guard case let .mapping(body) = pair.value else { throw fail(pair.value, "segment '\(name)' must be a mapping with description and rule") }
            for key in body.keys where !["description", "rule"].contains(key.string ?? "") {
                throw fail(key, "unknown key '\(key.string ?? "?")' in segment '\(name)'; expected description and rule")
            }
            guard let ruleNode = body.first(where: { $0.key.string == "rule" })?.value, let ruleText = ruleNode.string else {
                throw fail(pair.key, "segment '\(name)' needs a rule, e.g. rule: shop_times >= 10")
            }
            do {
                let rule = try SegmentRule.parse(ruleText, knownFields: fields)
                return SegmentDefinition(name: name, description: body.first { $0.key.string == "description" }?.value.string ?? "",
                                         text: ruleText, rule: rule)
            } catch let error as SegmentRuleError {
                // Point at the character in the file when the rule is on the key's line.
                let column = ruleNode.mark.map { $0.column + error.column - 1 }
                throw PolicyError(file: file, line: ruleNode.mark?.line, column: column,
                                  "segment '\(name)': \(error.message) (rule column \(error.column))")
            }
        }
    }
}
