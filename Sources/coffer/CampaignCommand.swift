import ArgumentParser
import CofferActivation
import CofferAnalysis
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferStore
import Foundation

/// `coffer campaign create|list|show|export|report`
struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Campaigns with holdout groups and variants, their exports, and their measured uplift.",
        subcommands: [Create.self, List.self, Show.self, Export.self, Report.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Assign a segment's members to a holdout and variants (owner; each assignment is an event in the person's log).",
            discussion: """
                Assignment is a keyed hash of the campaign's secret and the person's random id: stable, and \
                independent of anything known about them. The holdout is never exported; `campaign report` \
                measures the variants against it.
                """
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The campaign's name (letters, digits, - and _).", valueName: "NAME")) var name: String
        @Option(help: ArgumentHelp("The segment it reaches.", valueName: "SEGMENT")) var segment: String
        @Option(help: "The channel: email, sms, push or ads.") var channel: ActivationSettings.Channel
        @Option(help: ArgumentHelp("The share held out, e.g. 10%.", valueName: "SHARE")) var holdout: String = "10%"
        @Option(help: ArgumentHelp("A variant and what it says, e.g. A='Free pastry'; repeat for more (default: one, A).",
                                   valueName: "NAME=CONTENT"))
        var variant: [String] = []
        @Option(help: ArgumentHelp("When messages may start (ISO-8601 with a zone).", valueName: "TIME")) var starts: String?
        @Option(help: ArgumentHelp("When the offer ends (ISO-8601 with a zone).", valueName: "TIME")) var ends: String?
        @Flag(help: "A birthday campaign: only members whose birthday month falls between --starts and --ends.")
        var birthdaysInWindow = false

        func validate() throws {
            guard Self.share(holdout) != nil else { throw ValidationError("--holdout must be a percentage like 10% (0% to 99%)") }
            for text in variant where !text.contains("=") { throw ValidationError("--variant '\(text)' must read NAME=CONTENT") }
            for (flag, value) in [("--starts", starts), ("--ends", ends)] {
                if let value, Timestamp.parse(value) == nil { throw ValidationError("\(flag) '\(value)' is not ISO-8601 with a time zone") }
            }
        }

        static func share(_ text: String) -> Double? {
            guard text.hasSuffix("%"), let percent = Double(text.dropLast()), (0..<100).contains(percent) else { return nil }
            return percent / 100
        }

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let variants = variant.map { text -> Campaign.Variant in
                let parts = text.split(separator: "=", maxSplits: 1)
                return Campaign.Variant(name: String(parts[0]), content: parts.count > 1 ? String(parts[1]) : "")
            }
            var campaign = Campaign(name: name, segment: segment, channel: channel, holdout: Self.share(holdout)!, variants: variants,
                                    starts: starts.flatMap { Timestamp.parse($0) }, ends: ends.flatMap { Timestamp.parse($0) })
            campaign.birthdaysInWindow = birthdaysInWindow
            let created = try CampaignDesk(vault: vault, policy: policy).create(campaign)
            Terminal.line("Created campaign \(name) on '\(segment)' (\(channel.rawValue)): "
                + created.groups.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ".")
            Terminal.line("Next: coffer campaign export \(name) --out FILE --actor MARKETER; later: coffer campaign report \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The campaigns, oldest first.")
        @OptionGroup var options: VaultOptions

        func run() throws {
            let vault = try options.unlock()
            let campaigns = try CampaignDesk(vault: vault, policy: try options.policy()).list()
            if campaigns.isEmpty { Terminal.line("No campaigns yet: coffer campaign create NAME --segment S --channel email") }
            for campaign in campaigns {
                Terminal.line("\(campaign.name)  segment \(campaign.segment), \(campaign.channel.rawValue), holdout \(Int((campaign.holdout * 100).rounded())) %, "
                    + "variants \(campaign.variants.map(\.name).joined(separator: ", ")), created \(Timestamp.format(campaign.createdAt))")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One campaign: its definition and its people per group.")
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The campaign.", valueName: "NAME")) var name: String

        func run() throws {
            let vault = try options.unlock()
            let policy = try options.policy()
            let (campaign, groups) = try CampaignDesk(vault: vault, policy: policy).show(name)
            Terminal.line("campaign \(campaign.name): segment \(campaign.segment), channel \(campaign.channel.rawValue), created \(Timestamp.format(campaign.createdAt))")
            Terminal.line("window: \(campaign.starts.map(Timestamp.format) ?? "any time") to \(campaign.ends.map(Timestamp.format) ?? "any time")")
            for variant in campaign.variants {
                Terminal.line("  \(variant.name): \(Self.size(groups[variant.name] ?? 0, policy))  \(variant.content)")
            }
            Terminal.line("  holdout (\(Int((campaign.holdout * 100).rounded())) %): \(Self.size(groups[Campaign.holdoutGroup] ?? 0, policy))")
        }

        static func size(_ count: Int, _ policy: Policy) -> String {
            count < policy.minimumGroupSize ? "< \(policy.minimumGroupSize)" : "\(count) people"
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a campaign's treatment groups, each member with their variant (marketing role; audited).",
            discussion: "The holdout never leaves. Every member is checked as `audience export` checks them."
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The campaign.", valueName: "NAME")) var name: String
        @Option(help: ArgumentHelp("A destination of the policy (default: the first for the campaign's channel).", valueName: "NAME"))
        var destination: String?
        @Option(help: ArgumentHelp("Where to write the audience.", valueName: "FILE")) var out: String

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let report = try AudienceExporter(vault: vault, policy: policy).export(campaign: name, destination: destination, to: URL(fileURLWithPath: out))
            Terminal.line(String(format: "Exported %d member(s) of campaign %@ to %@ (%@, destination %@); export %@.", report.members, name, out,
                                 report.destination.format.rawValue, report.destination.name, report.exportID))
            Terminal.line("Left out: " + report.leftOutSummary)
        }
    }

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reach and uplift of a campaign against its holdout, with 95 % intervals (owner).",
            discussion: """
                Per group: members, sent, delivered, opened and clicked (email events whose properties.campaign \
                is the campaign), conversions (a purchase in the window after the start) and revenue per \
                member. Each variant against the holdout: the absolute and relative uplift in conversion \
                (two-proportion interval) and the uplift in revenue per member (Welch's t interval). Groups \
                below the minimum group size show only "< k".
                """
        )
        @OptionGroup var options: VaultOptions
        @Argument(help: ArgumentHelp("The campaign.", valueName: "NAME")) var name: String
        @Option(help: ArgumentHelp("How long after the start purchases count, e.g. 14d.", valueName: "DURATION")) var window: String = "14d"
        @Option(help: "table, csv or json.") var format: Format = .table

        func validate() throws {
            guard PolicyDuration(window) != nil else { throw ValidationError("--window must be a duration like 14d, 4w or 1m") }
        }

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let report = try CampaignDesk(vault: vault, policy: policy).report(name, window: PolicyDuration(window)!)
            CampaignReportPrinter(report: report).print(format)
        }
    }
}
