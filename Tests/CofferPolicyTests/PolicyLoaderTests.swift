@testable import CofferPolicy
import CofferStore
import Foundation
import Testing

struct PolicyLoaderTests {
    @Test func testShippedDefaultPolicyLoads() throws {
        let policy = try PolicyLoader.load(path: defaultPolicyPath())
        #expect(policy.purposes.map(\.name) == ["analytics", "marketing", "personalisation", "support", "email_marketing", "sms_marketing",
                                                "push_marketing"])
        #expect(policy.activation.channelConsents == [.email: "email_marketing", .sms: "sms_marketing", .push: "push_marketing", .ads: "marketing"])
        #expect(policy.activation.frequencyCap == 2 && policy.activation.capWindow == PolicyDuration("7d"))
        #expect(policy.activation.destination("google_ads")?.format == .ads)
        #expect(policy.purpose("marketing")?.lawfulBasis == .consent)
        #expect(policy.purpose("marketing")?.consentValidFor == PolicyDuration("24m"))
        #expect(policy.purpose("analytics")?.needsConsent == false)
        #expect(policy.fieldClasses["email"] == [.directIdentifier])
        #expect(policy.fieldRules["age"]?.generalise == .band(10))
        #expect(policy.fieldRules["birthday"]?.generalise == .month)
        #expect(policy.fieldRules["postcode"]?.truncate == 3)
        #expect(policy.minimumGroupSize == 5)
        #expect(policy.retention(for: .page) == PolicyDuration("13m"))
        #expect(policy.access[.analyst]?.purposes["marketing"]?[.sensitive] == .deny)
        #expect(policy.sha256.count == 64)
    }

    @Test func testMinimalPolicyLoadsWithDefaults() throws {
        let policy = try parsePolicy(minimalPolicy)
        #expect(policy.purpose("marketing")?.consentCategories == ["marketing"])
        #expect(policy.minimumGroupSize == 5)
        #expect(policy.identifiers.isEmpty)
    }

    @Test func testUnknownFieldClassIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "  behavioural: [spend]", with: "  behavioral: [spend]")
        let error = policyError(text)
        #expect(error?.line == 11)
        #expect(error?.problem.contains("unknown field class 'behavioral'") == true, "\(String(describing: error))")
        #expect(error?.problem.contains("direct_identifier, quasi_identifier, sensitive, behavioural") == true)
        #expect(error?.description.hasPrefix("test.yaml:11:3: ") == true, "\(String(describing: error))")
    }

    @Test func testUnknownFieldClassInAccessIsRefused() {
        let text = minimalPolicy.replacingOccurrences(of: "behavioural: allow }", with: "behavioural: allow, secret: deny }")
        let error = policyError(text)
        #expect(error?.line == 17)
        #expect(error?.problem.contains("unknown field class 'secret'") == true, "\(String(describing: error))")
    }

    @Test func testUnknownTransformIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "direct_identifier: tokenise", with: "direct_identifier: hash")
        let error = policyError(text)
        #expect(error?.line == 17)
        #expect(error?.problem.contains("unknown transform 'hash'") == true, "\(String(describing: error))")
        #expect(error?.problem.contains("allow, truncate, generalise, tokenise, redact, deny") == true)
    }

    @Test func testDuplicatePurposeIsRefusedNamingBothLines() {
        let text = minimalPolicy.replacingOccurrences(of: "    consent_valid_for: 30d\n",
                                                      with: "    consent_valid_for: 30d\n  analytics:\n    lawful_basis: contract\n")
        let error = policyError(text)
        #expect(error?.line == 8)
        #expect(error?.problem.contains("duplicate purpose 'analytics' (first defined at line 3)") == true, "\(String(describing: error))")
    }

    @Test func testBadYAMLIsRefusedWithItsLine() {
        let text = minimalPolicy.replacingOccurrences(of: "  direct_identifier: [email]", with: "  direct_identifier: [email")
        let error = policyError(text)
        #expect(error?.line != nil)
        #expect(error?.problem.hasPrefix("not valid YAML") == true, "\(String(describing: error))")
    }

    @Test func testOtherMistakesEachGetAPreciseMessage() {
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
            #expect(error?.problem.contains(message) == true, "\(to): \(String(describing: error))")
            #expect(error?.line == line, "\(to)")
        }
    }

    @Test func testMissingFileAndEmptyFileAreClearErrors() {
        do { _ = try PolicyLoader.load(path: "/nonexistent/policy.yaml"); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("no policy file here"), "\(error)")
        }
        #expect(policyError("")?.problem.contains("empty") == true)
        #expect(policyError("- a\n- b")?.problem.contains("must be a mapping") == true)
    }

    @Test func testPolicyPathResolution() {
        #expect(PolicyLoader.resolvePath(explicit: "x.yaml", environment: ["COFFER_POLICY": "y.yaml"]) == "x.yaml")
        #expect(PolicyLoader.resolvePath(explicit: nil, environment: ["COFFER_POLICY": "y.yaml"]) == "y.yaml")
        #expect(PolicyLoader.resolvePath(explicit: nil, environment: [:]) == "policies/default.yaml")
    }
}

/// Issue 20: the `activation:` section is checked like the rest of the policy.
struct ActivationPolicyTests {
    @Test("a bad activation section gets one error naming the line and what was expected")
    func badActivation() throws {
        let text = try String(contentsOfFile: defaultPolicyPath(), encoding: .utf8)
        for (old, new, message) in [
            ("frequency_cap: 2 per 7d", "frequency_cap: twice a week", "must read like '2 per 7d'"),
            ("    sms:   { consent: sms_marketing }", "    fax:   { consent: sms_marketing }", "unknown channel 'fax'"),
            ("    ads:   { consent: marketing }", "    ads:   { consent: analytics }", "rests on legitimate_interests"),
            ("format: sms, fields: [phone]", "format: sms, fields: [phone, shoe_size]", "'shoe_size' is in no field class"),
            ("format: email-csv,", "format: pdf,", "unknown format 'pdf'"),
            ("format: sms, fields: [phone]", "format: sms, fields: [email]", "the sms format needs 'phone'"),
        ] {
            #expect(text.contains(old), "\(old)")
            do {
                _ = try PolicyLoader.parse(text.replacingOccurrences(of: old, with: new), file: "p.yaml")
                Issue.record("expected an error for \(new)")
            } catch let error as PolicyError {
                #expect(error.line != nil && "\(error)".contains(message), "\(error)")
            }
        }
    }
}
