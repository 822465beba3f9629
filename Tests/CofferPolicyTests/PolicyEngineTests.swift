import CofferDemo
@testable import CofferPolicy
import CofferStore
import CofferFormats
import Foundation
import Testing

struct PolicyEngineTests {
    @Test func testDefaultPolicyDecisions() throws {
        let engine = PolicyEngine(policy: try PolicyLoader.load(path: defaultPolicyPath()))
        func decide(_ role: Role, _ purpose: String, _ field: String, _ action: Action = .query) -> Decision {
            engine.decide(actor: "a", role: role, purpose: purpose, action: action, field: field)
        }
        #expect(decide(.analyst, "analytics", "email").transform == .tokenise)
        #expect(decide(.analyst, "analytics", "age").transform == .generalise)
        #expect(decide(.analyst, "analytics", "age").rule?.generalise == .band(10))
        // Issue 16: spend and purchase times are quasi-identifiers, coarsened for analysts.
        #expect(decide(.analyst, "analytics", "total_spend").transform == .generalise)
        #expect(decide(.analyst, "analytics", "total_spend").rule?.generalise == .round(10))
        #expect(decide(.analyst, "analytics", "first_time_shop").rule?.generalise == .week)
        #expect(decide(.analyst, "analytics", "shop_times").transform == .allow)
        #expect(decide(.owner, "support", "total_spend").transform == .allow)
        #expect(decide(.analyst, "analytics", "health_notes").transform == .deny)
        #expect(decide(.analyst, "analytics", "address").transform == .deny, "deny_fields")
        #expect(decide(.analyst, "analytics", "favourite_colour").transform == .deny, "unclassified")
        #expect(decide(.analyst, "support", "total_spend").transform == .deny, "no access for the purpose")
        #expect(decide(.analyst, "nonsense", "total_spend").transform == .deny, "undeclared purpose")
        #expect(decide(.analyst, "marketing", "total_spend", .activate).transform == .deny, "analysts cannot activate")
        #expect(decide(.marketing, "marketing", "email", .activate).transform == .allow)
        for field in engine.policy.classifiedFields {
            #expect(decide(.auditor, "analytics", field).isDenied, "auditors get no customer data: \(field)")
        }
    }

    @Test func testAFieldInSeveralClassesGetsTheStrictestTransform() throws {
        let text = minimalPolicy.replacingOccurrences(of: "  behavioural: [spend]", with: "  behavioural: [spend, age]")
        let engine = PolicyEngine(policy: try parsePolicy(text))
        let decision = engine.decide(actor: "a", role: .analyst, purpose: "analytics", action: .query, field: "age")
        #expect(decision.transform == .generalise)
        let denying = text.replacingOccurrences(of: "behavioural: allow", with: "behavioural: deny")
        let denied = PolicyEngine(policy: try parsePolicy(denying))
            .decide(actor: "a", role: .analyst, purpose: "analytics", action: .query, field: "age")
        #expect(denied.transform == .deny, "deny in one class wins over generalise in another")
    }

    /// Property: whatever else a policy says, a field its policy denies to a
    /// role is never given to that role — and no decision is laxer than any rule that applies.
    @Test func testNoRoleEverReceivesADeniedFieldWhateverElseThePolicySays() throws {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        let fields = (0..<12).map { "f\($0)" }
        let purposes = ["p0", "p1", "p2"]
        for _ in 0..<600 {
            let policy = randomPolicy(fields: fields, purposes: purposes, rng: &rng)
            let engine = PolicyEngine(policy: policy)
            for role in Role.allCases {
                for purpose in purposes + ["undeclared"] {
                    for field in fields + ["unclassified"] {
                        for action in Action.allCases {
                            let decision = engine.decide(actor: "x", role: role, purpose: purpose, action: action, field: field)
                            let access = policy.access[role]
                            let transforms = access?.purposes[purpose]
                            let classes = policy.fieldClasses[field] ?? []
                            let mustDeny = !role.permissions.contains(action.permission)
                                || policy.purpose(purpose) == nil
                                || transforms == nil
                                || access!.denyFields.contains(field)
                                || classes.isEmpty
                                || classes.contains { transforms![$0] == nil || transforms![$0] == .deny }
                            if mustDeny {
                                #expect(decision.transform == .deny, "\(role) \(purpose) \(field) \(action): \(decision.reason)")
                            } else {
                                let strictest = classes.map { transforms![$0]! }.max()!
                                #expect(decision.transform == strictest)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Property: adding permissive rules anywhere never lifts a deny.
    @Test func testAddingAllowRulesNeverLiftsADeny() throws {
        var rng = SeededGenerator(seed: 42)
        let fields = (0..<8).map { "f\($0)" }
        let purposes = ["p0", "p1"]
        for _ in 0..<400 {
            let policy = randomPolicy(fields: fields, purposes: purposes, rng: &rng)
            var laxer = policy
            // Put every field into one more class, and allow every class that was not mentioned.
            for field in fields { laxer.fieldClasses[field, default: []].insert(FieldClass.allCases.randomElement(using: &rng)!) }
            for role in Role.allCases {
                guard var access = laxer.access[role] else { continue }
                for purpose in access.purposes.keys {
                    for fieldClass in FieldClass.allCases where access.purposes[purpose]![fieldClass] == nil {
                        access.purposes[purpose]![fieldClass] = .allow
                    }
                }
                laxer.access[role] = access
            }
            let before = PolicyEngine(policy: policy), after = PolicyEngine(policy: laxer)
            for role in Role.allCases {
                for purpose in purposes {
                    for field in fields {
                        let old = before.decide(actor: "x", role: role, purpose: purpose, action: .query, field: field)
                        let new = after.decide(actor: "x", role: role, purpose: purpose, action: .query, field: field)
                        let explicitlyDenied = old.isDenied && (policy.access[role]?.denyFields.contains(field) == true
                            || (policy.fieldClasses[field] ?? []).contains { policy.access[role]?.purposes[purpose]?[$0] == .deny }
                            || policy.access[role]?.purposes[purpose] == nil)
                        if explicitlyDenied { #expect(new.isDenied, "\(role) \(purpose) \(field)") }
                        #expect(new.transform >= (old.transform == .deny && !explicitlyDenied ? .allow : old.transform))
                    }
                }
            }
        }
    }

    @Test func testExplainListsEveryClassifiedField() throws {
        let policy = try parsePolicy(minimalPolicy)
        let rows = PolicyEngine(policy: policy).explain(role: .analyst, purpose: "analytics")
        #expect(rows.map(\.field) == ["age", "email", "spend"])
        #expect(rows.map(\.decision.transform) == [.generalise, .tokenise, .allow])
        #expect(PolicyEngine(policy: policy).explain(role: .analyst, purpose: "marketing").allSatisfy { $0.decision.isDenied })
    }

    // MARK: - Random policies

    func randomPolicy(fields: [String], purposes: [String], rng: inout SeededGenerator) -> Policy {
        var classes: [String: Set<FieldClass>] = [:]
        var rules: [String: FieldRule] = [:]
        for field in fields {
            let count = Int.random(in: 0...2, using: &rng)
            if count > 0 { classes[field] = Set((0..<count).map { _ in FieldClass.allCases.randomElement(using: &rng)! }) }
            rules[field] = FieldRule(generalise: .keep, truncate: 3)
        }
        var access: [Role: RoleAccess] = [:]
        for role in Role.allCases where Bool.random(using: &rng) || role == .analyst {
            var byPurpose: [String: [FieldClass: Transform]] = [:]
            for purpose in purposes where Int.random(in: 0..<4, using: &rng) > 0 {
                var transforms: [FieldClass: Transform] = [:]
                for fieldClass in FieldClass.allCases where Int.random(in: 0..<5, using: &rng) > 0 {
                    transforms[fieldClass] = Transform.allCases.randomElement(using: &rng)!
                }
                byPurpose[purpose] = transforms
            }
            let denied = Set(fields.filter { _ in Int.random(in: 0..<6, using: &rng) == 0 })
            access[role] = RoleAccess(purposes: byPurpose, denyFields: denied)
        }
        return Policy(file: "random", sha256: "", name: "random", version: "1",
                      purposes: purposes.map { Purpose(name: $0, description: "", lawfulBasis: .consent, consentCategories: [$0]) },
                      fieldClasses: classes, fieldRules: rules, access: access, retention: [:], minimumGroupSize: 5, identifiers: [])
    }
}
