import CofferActivation
import CofferAnalysis
import CofferCrypto
import CofferDemo
import CofferFormats
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// Issue 20, item 6: the café's use cases run end to end in the demo.
struct CafeCampaignTests {
    @Test("each café use case is a shipped segment, a campaign exported with that day's checks and answered; the treatment outdoes the holdout; a second run adds nothing")
    func useCases() throws {
        let scratch = try ScratchVault("cafe-campaigns", passphrase: "cafe campaigns passphrase")
        let owner = try scratch.create()
        let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        let segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path,
                                               policy: policy, required: true)
        let now = EventLog.now()
        var configuration = DemoConfiguration()
        configuration.customers = 600
        configuration.start = DemoConfiguration.yearEnding(before: now)
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: owner, policy: policy)
        ingestor.clock = { now }
        try data.ingestEventsAndCarts(with: ingestor)
        _ = try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(now: now)
        // Every use case's segment is shipped.
        let shipped = Set(segments.map(\.name))
        for useCase in CafeUseCase.all { #expect(shipped.contains(useCase.segment), "\(useCase.segment)") }

        let passphrase = "marketing passphrase"
        try owner.addActor("mia", role: .marketing, passphrase: SecureBytes(Array(passphrase.utf8)), kdf: ScratchVault.kdf)
        let mia = try Vault.unlock(layout: scratch.layout, actor: "mia", passphrase: SecureBytes(Array(passphrase.utf8)))
        let out = scratch.directory.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let simulation = CafeCampaignSimulation(owner: owner, marketer: mia, policy: policy, seed: 7, directory: out)
        let run = try simulation.run(now: now)

        let ran = run.outcomes.filter { $0.skipped == nil }
        #expect(ran.count == CafeUseCase.all.count, "\(run.outcomes.compactMap(\.skipped))")
        #expect(run.toolEvents?.quarantined == 0 && (run.toolEvents?.accepted ?? 0) > 100)
        #expect(run.customerEvents?.quarantined == 0 && (run.customerEvents?.accepted ?? 0) > 50)
        #expect(run.customerEvents?.subjectsCreated == 0, "every answer is linked to the member it was sent to")
        let desk = CampaignDesk(vault: owner, policy: policy)
        var treated = (members: 0, conversions: 0), held = (members: 0, conversions: 0)
        for outcome in ran {
            let useCase = outcome.useCase
            let (campaign, groups) = try desk.show(useCase.campaign)
            #expect(campaign.createdAt < now - Int64(useCase.daysAgo - 1) * 86_400_000, "created as of the day it went out")
            #expect((groups[Campaign.holdoutGroup] ?? 0) > 0 && groups.values.reduce(0, +) == outcome.groups.values.reduce(0, +))
            let export = try #require(outcome.exported)
            #expect(export.members > 0 && export.leftOut[.holdout] == groups[Campaign.holdoutGroup])
            let report = try desk.report(useCase.campaign, window: PolicyDuration(useCase.reportWindow)!, now: now)
            for row in report.rows where !row.suppressed {
                if row.group == Campaign.holdoutGroup {
                    held = (held.members + row.members, held.conversions + row.conversions)
                    #expect(row.sent == 0 && row.opened == 0, "the holdout got no message")
                } else {
                    treated = (treated.members + row.members, treated.conversions + row.conversions)
                    if useCase.channel == .email { #expect(row.delivered > 0 && row.opened > 0) }
                }
            }
        }
        let treatedRate = Double(treated.conversions) / Double(treated.members), heldRate = Double(held.conversions) / Double(held.members)
        #expect(treatedRate > heldRate + 0.05, "treatment \(treatedRate) against holdout \(heldRate)")
        // The personalised email carried its recommendations, and the answers are in the log.
        let beans = try String(contentsOf: out.appendingPathComponent("demo-beans-for-home.csv"), encoding: .utf8)
        #expect(beans.hasPrefix("Email Address,First Name,Last Name,BIRTHDAY_MONTH,RFM_SEGMENT,RECOMMENDED_ITEMS,VARIANT,OFFER,Tags"))
        #expect(beans.contains("Beans 250g"))

        // Published into the marketing files, the results read as the report gives them, small groups withheld.
        #expect(try CampaignResults.publish(vault: owner, policy: policy, now: now) == CafeUseCase.all.count)
        let reader = try ProjectionReader(vault: mia, policy: policy, purpose: "marketing", action: .query)
        let loyalty = try desk.report("demo-loyalty-rewards", now: now)
        let published = try reader.query("SELECT grp, members, conversions, conversion_uplift FROM campaign_results WHERE campaign = 'demo-loyalty-rewards' ORDER BY grp").rows
        #expect(published.map(\.[0].description) == loyalty.rows.map(\.group).sorted())
        for row in loyalty.rows {
            let shown = try #require(published.first { $0[0].description == row.group })
            #expect(shown[1] == (row.suppressed ? .null : .integer(row.members)) && shown[2] == (row.suppressed ? .null : .integer(row.conversions)))
            let uplift = loyalty.uplift.first { $0.variant == row.group }?.uplift?.conversion.estimate
            #expect(shown[3].double == uplift)
        }

        // A second run leaves what ran alone.
        let head = try owner.logHead()
        let again = try simulation.run(now: now)
        #expect(again.outcomes.allSatisfy { $0.skipped?.hasPrefix("ran before") == true } && again.toolEvents == nil)
        #expect(try owner.logHead() == head)
    }
}
