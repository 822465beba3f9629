package import CofferActivation
import CofferCrypto
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferIngest
package import CofferStore
package import Foundation

/// The café's marketing of the last weeks, replayed for the demo so that
/// `campaign report` has something to measure: each use case's campaign is
/// created (owner) and exported (marketing actor) as of the day it went out,
/// with the checks of that day (consent then in force, the frequency cap over
/// the sends before it); then the customers answer. The email tool's delivery,
/// open, click and unsubscribe events come in as its CSV export does, the
/// purchases and other answers as Segment events; the holdout gets nothing, so
/// what the report measures against it is what the messages changed.
///
/// A simulation: members are taken from today's projection, as no projection
/// of that day exists.
package struct CafeCampaignSimulation {
    /// What happened to one use case.
    package struct Outcome: Sendable {
        package var useCase: CafeUseCase
        /// People per group; empty when it was not created now.
        package var groups: [String: Int] = [:]
        package var exported: AudienceReport?
        /// Answers ingested: email-tool events and Segment events.
        package var toolEvents = 0
        package var customerEvents = 0
        /// Why it did not run now (it ran before, or the data has too few people for it).
        package var skipped: String?
    }

    let owner: Vault
    let marketer: Vault
    let policy: Policy
    let seed: UInt64
    /// Where the exports (and their manifests) are written.
    let directory: URL

    /// - Parameters: `owner` creates the campaigns and ingests the answers; `marketer` (a role that
    ///   may activate) exports them.
    package init(owner: Vault, marketer: Vault, policy: Policy, seed: UInt64, directory: URL) {
        self.owner = owner
        self.marketer = marketer
        self.policy = policy
        self.seed = seed
        self.directory = directory
    }

    static let day: Int64 = 86_400_000

    /// What a run did: each use case, and the ingests of the answers.
    package struct Run: Sendable {
        package var outcomes: [Outcome]
        /// The email tool's events and the customers' events, as ingested (nil: there were none).
        package var toolEvents: IngestReport?
        package var customerEvents: IngestReport?
    }

    /// Runs every use case not run before, oldest first, as of `now` minus its days.
    package func run(_ useCases: [CafeUseCase] = CafeUseCase.all, now: Int64 = EventLog.now(),
                     progress: (Outcome) -> Void = { _ in }) throws -> Run {
        let desk = CampaignDesk(vault: owner, policy: policy)
        let existing = Set(try desk.list().map(\.name))
        let exporter = try AudienceExporter(vault: marketer, policy: policy)
        guard FileManager.default.fileExists(atPath: ProjectionFile.url(owner.layout, purpose: policy.activation.purpose, role: marketer.role).path) else {
            throw ActivationError.noProjection(purpose: policy.activation.purpose)
        }
        var outcomes: [Outcome] = []
        var toolRows: [[String]] = [], customerLines: [[String: Any]] = []
        for useCase in useCases.sorted(by: { $0.daysAgo > $1.daysAgo }) {
            var outcome = Outcome(useCase: useCase)
            defer {
                outcomes.append(outcome)
                progress(outcome)
            }
            guard !existing.contains(useCase.campaign) else {
                outcome.skipped = "ran before (campaign \(useCase.campaign) exists)"
                continue
            }
            // 09:00 UTC that day; the export half an hour later.
            let start = now - Int64(useCase.daysAgo) * Self.day - now % Self.day + 9 * 3_600_000
            var campaign = Campaign(name: useCase.campaign, segment: useCase.segment, channel: useCase.channel, holdout: 0.2,
                                    variants: useCase.variants, starts: start,
                                    ends: start + Int64(useCase.validDays ?? 14) * Self.day)
            campaign.birthdaysInWindow = useCase.birthdays
            do {
                outcome.groups = try desk.create(campaign, now: start).groups
                let file = directory.appendingPathComponent(useCase.campaign + (useCase.channel == .email ? ".csv" : ".txt"))
                let report = try exporter.export(campaign: useCase.campaign, destination: nil, to: file, now: start + 1_800_000)
                outcome.exported = report
                var rng = SeededGenerator(seed: seed ^ UInt64(truncatingIfNeeded: useCase.campaign.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
                let members = try Self.members(of: report, variants: useCase.variants)
                let answers = Self.answers(useCase, members: members, start: start, now: now, rng: &rng)
                outcome.toolEvents = answers.tool.count
                outcome.customerEvents = answers.customer.count
                toolRows += answers.tool
                customerLines += answers.customer
            } catch let error as ActivationError {
                outcome.skipped = error.message
            }
        }
        let (tool, customer) = try ingest(toolRows: toolRows, customerLines: customerLines)
        return Run(outcomes: outcomes, toolEvents: tool, customerEvents: customer)
    }

    /// One exported member: how the channel reaches them (email or E.164 phone), their variant and recommendations.
    struct Member {
        var address: String
        var variant: String
        var recommended: [String]
    }

    /// The members as the receiving tool reads the exported file.
    static func members(of report: AudienceReport, variants: [Campaign.Variant]) throws -> [Member] {
        let lines = try String(contentsOf: report.file, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        guard report.destination.format == .emailCSV else {
            // SMS and push files are one address a line: the campaign's one variant.
            return lines.map { Member(address: String(decoding: $0, as: UTF8.self), variant: variants[0].name, recommended: []) }
        }
        guard let header = lines.first.flatMap({ CSVFields.split($0) }), let email = header.firstIndex(of: "Email Address") else { return [] }
        let variant = header.firstIndex(of: "VARIANT"), recommended = header.firstIndex(of: "RECOMMENDED_ITEMS")
        return lines.dropFirst().compactMap { CSVFields.split($0) }.map { cells in
            Member(address: cells[email], variant: variant.map { cells[$0] } ?? variants[0].name,
                   recommended: recommended.map { cells[$0].split(separator: ",").map(String.init) } ?? [])
        }
    }

    /// The email tool's rows (email, event, timestamp, campaign) and the customers' Segment events.
    static func answers(_ useCase: CafeUseCase, members: [Member], start: Int64, now: Int64,
                        rng: inout SeededGenerator) -> (tool: [[String]], customer: [[String: Any]]) {
        var tool: [[String]] = [], customer: [[String: Any]] = []
        let window = min(Int64(useCase.validDays ?? 14) * day, now - start - 3_600_000)
        func time(_ millis: Int64) -> String { Timestamp.format(millis) }
        for (index, member) in members.enumerated() {
            var engaged = true
            if useCase.channel == .email {
                let sent = start + Int64.random(in: 0..<3_600_000, using: &rng)
                guard Double.random(in: 0..<1, using: &rng) < 0.97 else {
                    tool.append([member.address, "Email Bounced", time(sent + 60_000), useCase.campaign])
                    continue
                }
                tool.append([member.address, "Email Delivered", time(sent + 60_000), useCase.campaign])
                // B's subject line is opened less often than A's.
                engaged = Double.random(in: 0..<1, using: &rng) < (member.variant == "B" ? 0.42 : 0.5)
                if engaged {
                    let opened = sent + Int64.random(in: 600_000..<(2 * day), using: &rng)
                    tool.append([member.address, "Email Opened", time(opened), useCase.campaign])
                    if Double.random(in: 0..<1, using: &rng) < 0.35 {
                        tool.append([member.address, "Email Link Clicked", time(opened + 90_000), useCase.campaign])
                    }
                } else if Double.random(in: 0..<1, using: &rng) < 0.01 {
                    tool.append([member.address, "Email Unsubscribed", time(sent + day), useCase.campaign])
                }
            }
            let chance = (useCase.answer[member.variant] ?? 0) * (engaged ? 1 : 0.15)
            guard Double.random(in: 0..<1, using: &rng) < chance, window > 7_200_000 else { continue }
            let at = start + Int64.random(in: 3_600_000..<window, using: &rng)
            var context: [String: Any] = ["traits": [useCase.channel == .email ? "email" : "phone": member.address],
                                          "campaign": ["name": useCase.campaign, "source": useCase.channel.rawValue,
                                                       "medium": useCase.channel.rawValue]]
            func event(_ name: String, _ at: Int64, _ properties: [String: Any], channel: String) {
                context["channel"] = channel
                // A visitor from the message's link: a new anonymous id, known by the address they give.
                customer.append(["type": "track", "event": name, "messageId": "\(useCase.campaign)-\(index)-\(customer.count)",
                                 "anonymousId": "\(useCase.campaign)-\(index)",
                                 "timestamp": time(at), "properties": properties, "context": context])
            }
            let coffee = MenuItem.coffees.randomElement(using: &rng)!
            var items: [(MenuItem, Int)] = [(coffee, 1)]
            var channel = "in-store"
            switch useCase.response {
            case .usual:
                if Bool.random(using: &rng) { items.append((MenuItem.pastries[0], 1)) }
            case .birthdayTreat:
                items.append((MenuItem.pastries.randomElement(using: &rng)!, 1))
            case .online:
                channel = "online"
                if Bool.random(using: &rng) { items.append((MenuItem.lunches.randomElement(using: &rng)!, 1)) }
            case .app:
                channel = "online"
                event("Application Opened", at - 300_000, [:], channel: "app")
            case .share:
                event("Post Shared", at - 2 * 3_600_000, ["network": "instagram", "post_id": "P-\(useCase.campaign)"], channel: "social")
            case .review:
                event("Review Submitted", at, ["rating": Int.random(in: 4...5, using: &rng)], channel: "web")
                guard Double.random(in: 0..<1, using: &rng) < 0.7 else { continue }
            case .recommended:
                // The bag the email recommended (else the house beans), with a coffee.
                let name = member.recommended.first { $0.contains("Beans") } ?? MenuItem.beans[0].name
                items.append(((MenuItem.beans + MenuItem.pastries + MenuItem.lunches + MenuItem.coffees).first { $0.name == name }
                    ?? MenuItem.beans[0], 1))
            case .icedLatte:
                items = [(MenuItem.coffees[5], 2)]
            }
            let revenue = items.reduce(0) { $0 + $1.0.price * Double($1.1) }
            event("Order Completed", at + 600_000, [
                "order_id": "\(useCase.campaign)-\(index)", "revenue": (revenue * 100).rounded() / 100, "currency": "EUR",
                "channel": channel, "coupon": useCase.campaign,
                "products": items.map { ["product_id": $0.0.sku, "sku": $0.0.sku, "name": $0.0.name, "category": $0.0.category,
                                         "price": $0.0.price, "quantity": $0.1] as [String: Any] },
            ], channel: channel == "online" ? (useCase.response == .app ? "app" : "web") : "in-store")
        }
        return (tool, customer)
    }

    /// The email tool's export, as `examples/esp-events-mapping.yaml` reads it.
    static let toolMapping = CSVMapping(type: "track", fields: ["event": "event", "timestamp": "timestamp", "anonymousId": "email"],
                                        traits: ["email": "email"], properties: ["campaign": "campaign"], timezone: "UTC", delimiter: ",")

    private func ingest(toolRows: [[String]], customerLines: [[String: Any]]) throws -> (IngestReport?, IngestReport?) {
        let ingestor = try Ingestor(vault: owner, policy: policy)
        var tool: IngestReport?, customer: IngestReport?
        var line = 1
        let rows = toolRows.map { row -> SourceRecord in
            line += 1
            return SourceRecord(line: line, byteOffset: 0, bytes: Array(row.map(DemoGenerator.csvField).joined(separator: ",").utf8))
        }
        if !rows.isEmpty {
            tool = try ingestor.ingest(records: rows, file: "demo:email-tool-events.csv", format: .csv, mapping: Self.toolMapping,
                                    header: ["email", "event", "timestamp", "campaign"])
        }
        let records = customerLines.enumerated().map { SourceRecord(line: $0.offset + 1, byteOffset: 0, bytes: DemoGenerator.encode($0.element)) }
        if !records.isEmpty {
            customer = try ingestor.ingest(records: records, file: "demo:campaign-answers.jsonl", format: .jsonl)
        }
        return (tool, customer)
    }
}
