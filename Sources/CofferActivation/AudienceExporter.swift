import CofferCrypto
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferStore
package import Foundation
import GRDB

extension AuditAction {
    /// `audience export`: an audience left the vault (the entry's reason is its manifest).
    package static let audienceExport = AuditAction(rawValue: "audience-export")
}

/// Why a member of a segment was left out of an export: counted, never listed.
package enum LeftOutReason: String, Sendable, CaseIterable, Comparable {
    case noConsent = "no consent to the purpose"
    case noChannelConsent = "no opt-in for the channel"
    case restricted = "processing restricted"
    case erased = "erased"
    case optedOut = "unsubscribed, bounced or complained on the channel"
    case frequencyCap = "frequency cap reached"
    case noAddress = "no address for the channel"
    case holdout = "in the campaign's holdout"
    case notInCampaign = "not in the campaign (joined the segment after it was created, or a birthday outside its window)"

    package static func < (a: LeftOutReason, b: LeftOutReason) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// What one export did: who left (as a count), who was left out and why (as
/// counts), and the manifest that went into the audit trail.
package struct AudienceReport: Sendable {
    package var exportID: String
    package var segment: String
    package var channel: ActivationSettings.Channel
    package var destination: ActivationSettings.Destination
    package var members: Int
    package var leftOut: [LeftOutReason: Int]
    package var sha256: String
    package var file: URL
    /// The manifest as written to the audit trail and beside the file.
    package var manifest: String
    package var seconds: Double

    /// Who was left out, as the commands print it: "7 unsubscribed, …, 22 in the campaign's holdout" (empty: nobody).
    package var leftOutSummary: String {
        leftOut.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
    }
}

/// Exports a segment's members for one channel and destination, checking each
/// member against the vault as it is now: consent to the activation purpose
/// and to the channel's opt-in, restriction, erasure, the channel's opt-outs and
/// the frequency cap. Only the destination's fields leave; the file, its
/// manifest and the audit entry are written together.
package struct AudienceExporter {
    let vault: Vault
    let policy: Policy
    /// Where webhook secrets are read from (`secret_env` of a destination).
    package var environment = ProcessInfo.processInfo.environment
    /// Seconds before a webhook's first retry (doubled before each next one).
    package var webhookBackoff = 0.5

    /// - Throws: `VaultError.notPermitted` unless the actor may activate (the marketing role).
    package init(vault: Vault, policy: Policy) throws {
        try vault.require(.activate, for: .audienceExport, purpose: policy.activation.purpose)
        self.vault = vault
        self.policy = policy
    }

    /// Exports a campaign's treatment groups (its holdout stays out), each member with their variant.
    package func export(campaign name: String, destination: String?, format: ActivationSettings.Format? = nil, to url: URL,
                        now: Int64 = EventLog.now()) throws -> AudienceReport {
        let desk = CampaignDesk(vault: vault, policy: policy)
        let campaign = try desk.show(name).campaign
        if (campaign.starts.map { now < $0 } ?? false) || (campaign.ends.map { now >= $0 } ?? false) {
            throw ActivationError.outsideWindow(campaign: name, window: "from \(campaign.starts.map(Timestamp.format) ?? "any time") "
                                                + "until \(campaign.ends.map(Timestamp.format) ?? "any time")")
        }
        return try export(segment: campaign.segment, channel: campaign.channel, destination: destination, format: format, to: url, now: now,
                          campaign: (campaign, try desk.assignments(of: name)))
    }

    package func export(segment: String, channel: ActivationSettings.Channel, destination name: String?,
                        format: ActivationSettings.Format? = nil, to url: URL, now: Int64 = EventLog.now()) throws -> AudienceReport {
        try export(segment: segment, channel: channel, destination: name, format: format, to: url, now: now, campaign: nil)
    }

    private func export(segment: String, channel: ActivationSettings.Channel, destination name: String?,
                        format: ActivationSettings.Format?, to url: URL, now: Int64,
                        campaign: (campaign: Campaign, groups: [SubjectID: String])?) throws -> AudienceReport {
        let started = Date()
        let settings = policy.activation
        let destination = try resolveDestination(name, channel: channel, format: format)
        var webhook: WebhookDelivery?
        if let address = destination.url, let url = URL(string: address) {
            let variable = destination.secretEnvironment ?? ""
            guard let secret = environment[variable], !secret.isEmpty else { throw ActivationError.webhookSecretMissing(variable) }
            webhook = WebhookDelivery(url: url, secret: Array(secret.utf8))
            webhook?.backoff = webhookBackoff
        }
        let fields = destination.fields
        guard let file = try ActivationSubjects.members(of: segment, fields: fields, vault: vault, policy: policy) else {
            throw ActivationError.noProjection(purpose: settings.purpose)
        }
        guard file.segmentExists else { throw ActivationError.unknownSegment(segment, purpose: settings.purpose) }
        if let missing = fields.first(where: { !file.columns.contains($0) }) {
            throw ActivationError.fieldNotInProjection(missing, destination: destination.name)
        }
        var leftOut: [LeftOutReason: Int] = [:]
        let recommendations = AnalysisSettings.recommendationsField
        let live = try LiveState(vault: vault, policy: policy, channel: channel, now: now, recommendations: fields.contains(recommendations))
        var kept: [ActivationSubjects.Member] = []
        for var member in file.members {
            if let campaign {
                guard let group = campaign.groups[live.person(member.subject)] ?? campaign.groups[member.subject] else {
                    leftOut[.notInCampaign, default: 0] += 1
                    continue
                }
                guard group != Campaign.holdoutGroup else {
                    leftOut[.holdout, default: 0] += 1
                    continue
                }
                member.variant = group
            }
            if let reason = live.reason(leaving: member.subject) {
                leftOut[reason, default: 0] += 1
                continue
            }
            if member.values[recommendations] != nil, !live.mayReceiveRecommendations(member.subject) {
                member.values[recommendations] = .null
            }
            if let prepared = AudienceFile.prepared(member, format: destination.format) {
                kept.append(prepared)
            } else {
                leftOut[.noAddress, default: 0] += 1
            }
        }
        guard kept.count >= policy.minimumGroupSize else {
            try vault.audit(.audienceExport, decision: .denied, purpose: settings.purpose, target: "segment:\(segment)", rows: 0,
                            reason: "\(kept.count) member(s) left after the live checks, below the minimum group size \(policy.minimumGroupSize)")
            throw ActivationError.belowMinimum(segment: segment, members: kept.count, minimum: policy.minimumGroupSize)
        }
        let bytes = try AudienceFile.render(kept, segment: segment, destination: destination, variants: campaign?.campaign.variants)
        let digest = try SHA256.hash(bytes).hexString
        let exportID = (campaign.map { "CMP-\($0.campaign.name)-" } ?? "AUD-") + (try SecureRandom.bytes(6)).hexString
        let delivery = webhook?.send(bytes, idempotencyKey: exportID)
        let manifest = try CanonicalJSON.data([
            "export": exportID, "segment": segment, "purpose": settings.purpose, "channel": channel.rawValue,
            "destination": destination.name, "format": destination.format.rawValue, "fields": destination.fields.joined(separator: ","),
            "members": String(kept.count), "left_out": leftOut.sorted { $0.key < $1.key }.map { "\($0.key.rawValue): \($0.value)" }.joined(separator: "; "),
            "sha256": digest, "policy_sha256": policy.sha256, "at": Timestamp.format(now), "actor": vault.actor,
            "campaign": campaign?.campaign.name ?? "",
            "webhook": delivery.map { "\($0.delivered ? "delivered" : "NOT delivered") (\($0.status.map { "HTTP \($0)" } ?? "no answer")) "
                + "after \($0.tries) tr\($0.tries == 1 ? "y" : "ies") to \(destination.url ?? "")" } ?? "",
        ])
        let manifestText = String(decoding: manifest, as: UTF8.self)
        do {
            try AtomicFile.write(Data(bytes), to: url)
            try AtomicFile.write(Data(manifest + [0x0a]), to: url.appendingPathExtension("manifest.json"))
        } catch {
            throw ActivationError.unreadableFile(path: url.path, reason: "\(error)")
        }
        // Messages count against the frequency cap from now on (an ads audience sends nobody a message).
        if channel.isMessage, delivery?.delivered ?? true {
            try vault.database.write { db in
                try ChannelOptOuts.noteSends(kept.map(\.subject), channel: channel.rawValue, export: exportID, at: now, in: db)
            }
        }
        try vault.audit(.audienceExport, purpose: settings.purpose, target: "segment:\(segment)", rows: kept.count, reason: manifestText)
        if let delivery, !delivery.delivered {
            throw ActivationError.webhookFailed(url: destination.url ?? "", status: delivery.status, tries: delivery.tries, file: url.path)
        }
        return AudienceReport(exportID: exportID, segment: segment, channel: channel, destination: destination, members: kept.count,
                              leftOut: leftOut, sha256: digest, file: url, manifest: manifestText,
                              seconds: Date().timeIntervalSince(started))
    }

    /// The destination named `name`, else the policy's first for `channel` (in `format`, when given).
    package func resolveDestination(_ name: String?, channel: ActivationSettings.Channel,
                                    format: ActivationSettings.Format? = nil) throws -> ActivationSettings.Destination {
        let all = policy.activation.destinations
        guard let name else {
            guard let first = all.first(where: { $0.channel == channel && (format == nil || $0.format == format) }) else {
                throw ActivationError.noDestination(channel: channel.rawValue, format: format?.rawValue,
                                                    declared: all.map { "\($0.name) (\($0.channel.rawValue), \($0.format.rawValue))" })
            }
            return first
        }
        guard let destination = policy.activation.destination(name) else {
            throw ActivationError.unknownDestination(name, declared: all.map(\.name))
        }
        guard destination.channel == channel else {
            throw ActivationError.wrongChannel(destination: name, channel: channel.rawValue, expected: destination.channel.rawValue)
        }
        if let format, format != destination.format {
            throw ActivationError.wrongFormat(destination: name, format: format.rawValue, expected: destination.format.rawValue)
        }
        return destination
    }
}
