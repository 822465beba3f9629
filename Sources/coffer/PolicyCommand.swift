import ArgumentParser
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation

/// `coffer policy check|explain`
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check policy files, show what they allow, and change the vault's policy.",
        subcommands: [Check.self, Explain.self, Apply.self]
    )

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make FILE the vault's policy (owner; audited with its SHA-256).",
            discussion: """
                The file (and segments.yaml beside it, or --segments) is checked, then copied into the \
                vault, where every command finds it from then on, whatever the working directory. \
                The next `project build` applies it to the projections.
                """)
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The policy file.", valueName: "FILE")) var file: String
        @Option(help: ArgumentHelp("Segment definitions (default: segments.yaml beside FILE).", valueName: "FILE")) var segments: String?

        func run() throws {
            let vault = try options.layout.unlockAsking(actor: options.actor, passphraseFile: options.passphraseFile)
            let (policy, count) = try VaultPolicy.apply(policyPath: file, segmentsPath: segments, vault: vault)
            Terminal.line("The vault now runs under policy '\(policy.name)' version \(policy.version) "
                + "(sha256 \(policy.sha256.prefix(16))…) with \(count) segment(s). Run `coffer project build` to apply it.")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files.",
            discussion: "With no FILE, checks the policy in use (--policy, $COFFER_POLICY, else policies/default.yaml), "
                + "and the segment definitions beside it. Each error names the file, the line and what was expected; "
                + "exit status 1 if any file is wrong."
        )
        @OptionGroup var policyOption: PolicyOption
        @Argument(help: "Policy files to check.") var files: [String] = []
        @Option(help: ArgumentHelp("Segment definitions to check with them (default: segments.yaml beside each).", valueName: "FILE"))
        var segments: String?

        func run() throws {
            let paths = files.isEmpty ? [PolicyLoader.resolvePath(explicit: policyOption.policy, environment: CommandContext.current.environment)] : files
            var failures = 0
            for path in paths {
                do {
                    let policy = try PolicyLoader.load(path: path)
                    Terminal.line("\(path): ok — policy '\(policy.name)' version \(policy.version), "
                        + "\(policy.purposes.count) purposes, \(policy.fieldClasses.count) classified fields, "
                        + "\(policy.access.count) roles with access, minimum group size \(policy.minimumGroupSize); "
                        + "sha256 \(policy.sha256)")
                    // The segment definitions that go with it, checked against its fields.
                    let segmentsPath = SegmentCatalog.resolvePath(explicit: segments, policyPath: path, environment: CommandContext.current.environment)
                    if FileManager.default.fileExists(atPath: segmentsPath) || segments != nil {
                        let definitions = try SegmentCatalog.load(path: segmentsPath, policy: policy, required: true)
                        Terminal.line("\(segmentsPath): ok — \(definitions.count) segment(s)")
                    }
                } catch let error as PolicyError {
                    Terminal.error("policy error: \(error.description)")
                    failures += 1
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective field access of a role for a purpose.",
            discussion: "Fields the policy does not classify are denied to every role and are not listed."
        )
        @OptionGroup var policyOption: PolicyOption
        @Option(help: ArgumentHelp("owner, compliance, analyst, marketing or auditor.", valueName: "ROLE")) var role: Role
        @Option(help: ArgumentHelp("A purpose the policy declares.", valueName: "PURPOSE")) var purpose: String
        @Option(help: ArgumentHelp("view, query, segment, activate or export (default: query).", valueName: "ACTION"))
        var action: Action = .query

        func run() throws {
            let policy = try policyOption.load()
            guard let declared = policy.purpose(purpose) else {
                throw ConsentError.unknownPurpose(purpose, declared: policy.purposes.map(\.name))
            }
            let engine = PolicyEngine(policy: policy)
            Terminal.line("policy \(policy.file) ('\(policy.name)' \(policy.version), sha256 \(policy.sha256.prefix(16))…)")
            Terminal.line("role \(role.rawValue), purpose \(purpose), action \(action.rawValue): lawful basis \(declared.lawfulBasis.rawValue)"
                + (declared.needsConsent ? "; only subjects whose consent is in force" : ""))
            Terminal.line("")
            let rows = engine.explain(role: role, purpose: purpose, action: action)
            let fieldWidth = max(5, rows.map(\.field.count).max() ?? 0)
            let classWidth = max(5, rows.map { $0.classes.map(\.rawValue).joined(separator: ",").count }.max() ?? 0)
            func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
            Terminal.line("\(pad("field", fieldWidth))  \(pad("class", classWidth))  access")
            for row in rows {
                var access = row.decision.transform.rawValue
                if let generalise = row.decision.rule?.generalise, row.decision.transform == .generalise { access += " (\(generalise))" }
                if let truncate = row.decision.rule?.truncate, row.decision.transform == .truncate { access += " (first \(truncate))" }
                if row.decision.isDenied { access += " — \(row.decision.reason)" }
                Terminal.line("\(pad(row.field, fieldWidth))  \(pad(row.classes.map(\.rawValue).joined(separator: ","), classWidth))  \(access)")
            }
            let counts = Dictionary(grouping: rows, by: { $0.decision.transform }).mapValues(\.count)
            Terminal.line("")
            let tally: [String] = Transform.allCases.compactMap { transform in
                counts[transform].map { count in "\(count) \(transform.rawValue)" }
            }
            Terminal.line(tally.joined(separator: ", ") + "; unlisted fields: deny")
        }
    }
}
