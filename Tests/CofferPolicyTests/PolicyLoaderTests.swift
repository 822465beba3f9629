@testable import CofferPolicy
import CofferStore
import XCTest

final class PolicyLoaderTests: XCTestCase {
    func testShippedDefaultPolicyLoads() throws {
        let policy = try PolicyLoader.load(path: defaultPolicyPath())
        XCTAssertEqual(policy.purposes.map(\.name), ["analytics", "marketing", "personalisation", "support"])
        XCTAssertEqual(policy.purpose("marketing")?.lawfulBasis, .consent)
        XCTAssertEqual(policy.purpose("marketing")?.consentValidFor, PolicyDuration("24m"))
        XCTAssertEqual(policy.purpose("analytics")?.needsConsent, false)
        XCTAssertEqual(policy.fieldClasses["email"], [.directIdentifier])
        XCTAssertEqual(policy.fieldRules["age"]?.generalise, .band(10))
        XCTAssertEqual(policy.fieldRules["birthday"]?.generalise, .month)
        XCTAssertEqual(policy.fieldRules["postcode"]?.truncate, 3)
        XCTAssertEqual(policy.minimumGroupSize, 5)
        XCTAssertEqual(policy.retention(for: .page), PolicyDuration("13m"))
        XCTAssertEqual(policy.access[.analyst]?.purposes["marketing"]?[.sensitive], .deny)
        XCTAssertEqual(policy.sha256.count, 64)
    }

    func testMinimalPolicyLoadsWithDefaults() throws {
        let policy = try parsePolicy(minimalPolicy)
        XCTAssertEqual(policy.purpose("marketing")?.consentCategories, ["marketing"])
        XCTAssertEqual(policy.minimumGroupSize, 5)
        XCTAssertTrue(policy.identifiers.isEmpty)
    }

    func testUnknownFieldClassIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "  behavioural: [spend]", with: "  behavioral: [spend]")
        let error = policyError(text)
        XCTAssertEqual(error?.line, 11)
        XCTAssertTrue(error?.problem.contains("unknown field class 'behavioral'") == true, "\(String(describing: error))")
        XCTAssertTrue(error?.problem.contains("direct_identifier, quasi_identifier, sensitive, behavioural") == true)
        XCTAssertTrue(error?.description.hasPrefix("test.yaml:11:3: ") == true, "\(String(describing: error))")
    }

    func testUnknownFieldClassInAccessIsRefused() {
        let text = minimalPolicy.replacingOccurrences(of: "behavioural: allow }", with: "behavioural: allow, secret: deny }")
        let error = policyError(text)
        XCTAssertEqual(error?.line, 17)
        XCTAssertTrue(error?.problem.contains("unknown field class 'secret'") == true, "\(String(describing: error))")
    }

    func testUnknownTransformIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "direct_identifier: tokenise", with: "direct_identifier: hash")
        let error = policyError(text)
        XCTAssertEqual(error?.line, 17)
        XCTAssertTrue(error?.problem.contains("unknown transform 'hash'") == true, "\(String(describing: error))")
        XCTAssertTrue(error?.problem.contains("allow, truncate, generalise, tokenise, redact, deny") == true)
    }

    func testDuplicatePurposeIsRefusedNamingBothLines() {
        let text = minimalPolicy.replacingOccurrences(of: "    consent_valid_for: 30d\n",
                                                      with: "    consent_valid_for: 30d\n  analytics:\n    lawful_basis: contract\n")
        let error = policyError(text)
        XCTAssertEqual(error?.line, 8)
        XCTAssertTrue(error?.problem.contains("duplicate purpose 'analytics' (first defined at line 3)") == true,
                      "\(String(describing: error))")
    }

    func testBadYAMLIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "  direct_identifier: [email]", with: "  direct_identifier: [email")
        let error = policyError(text)
        XCTAssertNotNil(error?.line)
        XCTAssertTrue(error?.problem.hasPrefix("not valid YAML") == true, "\(String(describing: error))")
    }

    func testOtherMistakesEachGetAPreciseMessage() {
        let cases: [(String, String, Int)] = [
            ("name: test", "nmae: test", 1),
            ("lawful_basis: consent", "lawful_basis: because", 6),
            ("consent_valid_for: 30d", "consent_valid_for: soon", 7),
            ("  analyst:", "  intern:", 15),
            ("      analytics: {", "      sales: {", 17),
            ("age: { generalise: band 10 }", "age: { truncate: 2 }", 17),
            ("age: { generalise: band 10 }", "age: { generalise: fuzzy }", 13),
            ("access:", "minimum_group_size: 1\naccess:", 14),
        ]
        let expected = ["unknown key 'nmae' in the policy file", "unknown lawful basis 'because'",
                        "consent_valid_for must be a duration", "unknown role 'intern'", "purpose 'sales', which is not declared",
                        "field 'age' has no generalise rule", "unknown generalisation 'fuzzy'",
                        "minimum_group_size must be a whole number of at least 2"]
        for ((from, to, line), message) in zip(cases, expected) {
            let error = policyError(minimalPolicy.replacingOccurrences(of: from, with: to))
            XCTAssertTrue(error?.problem.contains(message) == true, "\(to): \(String(describing: error))")
            XCTAssertEqual(error?.line, line, to)
        }
    }

    func testMissingFileAndEmptyFileAreClearErrors() {
        XCTAssertThrowsError(try PolicyLoader.load(path: "/nonexistent/policy.yaml")) { error in
            XCTAssertTrue("\(error)".contains("no policy file here"), "\(error)")
        }
        XCTAssertTrue(policyError("")?.problem.contains("empty") == true)
        XCTAssertTrue(policyError("- a\n- b")?.problem.contains("must be a mapping") == true)
    }

    func testPolicyPathResolution() {
        XCTAssertEqual(PolicyLoader.resolvePath(explicit: "x.yaml", environment: ["COFFER_POLICY": "y.yaml"]), "x.yaml")
        XCTAssertEqual(PolicyLoader.resolvePath(explicit: nil, environment: ["COFFER_POLICY": "y.yaml"]), "y.yaml")
        XCTAssertEqual(PolicyLoader.resolvePath(explicit: nil, environment: [:]), "policies/default.yaml")
    }
}
