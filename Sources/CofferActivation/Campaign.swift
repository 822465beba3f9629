import CofferCrypto
import CofferFormats
package import CofferPolicy
import CofferProjection
package import CofferStore
import Foundation
import GRDB

extension AuditAction {
    /// `campaign create`: people assigned to a campaign's holdout and variants.
    package static let campaignCreate = AuditAction(rawValue: "campaign-create")
}

/// A campaign: a segment reached on one channel, with a holdout group that is
/// not contacted (to measure uplift against) and variants of the message.
package struct Campaign: Sendable, Equatable {
    package struct Variant: Sendable, Equatable {
        package var name: String
        /// What the variant says (a subject line, an offer): passed to the sending tool.
        package var content: String

        package init(name: String, content: String) {
            self.name = name
            self.content = content
        }
    }

    package var name: String
    package var segment: String
    package var channel: ActivationSettings.Channel
    /// The share of the segment held out (0 ≤ share < 1).
    package var holdout: Double
    package var variants: [Variant]
    /// When its messages may go out (ms; nil: any time). An offer is valid in this window.
    package var starts: Int64?
    package var ends: Int64?
    /// A birthday campaign: only members whose birthday month falls in the window (months are
    /// what the marketing projection holds of a birthday).
    package var birthdaysInWindow = false
    package var createdAt: Int64 = 0

    /// The holdout group's name.
    package static let holdoutGroup = "holdout"

    package init(name: String, segment: String, channel: ActivationSettings.Channel, holdout: Double, variants: [Variant],
                 starts: Int64? = nil, ends: Int64? = nil) {
        self.name = name
        self.segment = segment
        self.channel = channel
        self.holdout = holdout
        self.variants = variants.isEmpty ? [Variant(name: "A", content: "")] : variants
        self.starts = starts
        self.ends = ends
    }

    /// The group of the person whose subject id is `subject`: a keyed hash of the campaign's
    /// secret and the id, read as a uniform number in [0, 1) — holdout below the share, else
    /// one of the variants in equal parts. The same on every run; independent of anything
    /// known about the person.
    package func group(of subject: SubjectID, secret: [UInt8]) throws -> String {
        try group(of: subject, mac: HMACSHA256(key: secret))
    }

    /// The same, with the secret's HMAC context made once for every member of the campaign.
    func group(of subject: SubjectID, mac context: HMACSHA256) throws -> String {
        let mac = try context.authenticate(Array(name.utf8) + [0] + subject.bytes)
        var value: UInt64 = 0
        for byte in mac.prefix(8) { value = value << 8 | UInt64(byte) }
        let u = Double(value >> 11) / Double(1 << 53)
        if u < holdout { return Self.holdoutGroup }
        let index = min(variants.count - 1, Int((u - holdout) / (1 - holdout) * Double(variants.count)))
        return variants[index].name
    }

    /// The calendar months (1–12) an instant range touches, `to` excluded.
    static func months(from start: Int64, to end: Int64) -> Set<Int> {
        var months: Set<Int> = []
        var day = CivilCalendar.days(start)
        let last = CivilCalendar.days(end - 1)
        while day <= last, months.count < 12 {
            months.insert(CivilCalendar.civilFromDays(day).1)
            day += 28
        }
        months.insert(CivilCalendar.civilFromDays(last).1)
        return months
    }

    /// The campaign as stored (canonical JSON).
    func definition() throws -> String {
        var object: [String: Any] = ["segment": segment, "channel": channel.rawValue, "holdout": holdout,
                                     "variants": variants.map { ["name": $0.name, "content": $0.content] }]
        if birthdaysInWindow { object["birthdays_in_window"] = true }
        if let starts { object["starts"] = Timestamp.format(starts) }
        if let ends { object["ends"] = Timestamp.format(ends) }
        return String(decoding: try CanonicalJSON.data(object), as: UTF8.self)
    }

    init(name: String, definition text: String, createdAt: Int64) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let segment = object["segment"] as? String, let channelName = object["channel"] as? String,
              let channel = ActivationSettings.Channel(rawValue: channelName), let holdout = object["holdout"] as? Double,
              let variants = object["variants"] as? [[String: String]] else {
            throw VaultError.corruptFile(path: "campaigns", reason: "campaign \(name) has an unreadable definition")
        }
        self.init(name: name, segment: segment, channel: channel, holdout: holdout,
                  variants: variants.map { Variant(name: $0["name"] ?? "A", content: $0["content"] ?? "") },
                  starts: (object["starts"] as? String).flatMap { Timestamp.parse($0) },
                  ends: (object["ends"] as? String).flatMap { Timestamp.parse($0) })
        self.birthdaysInWindow = object["birthdays_in_window"] as? Bool ?? false
        self.createdAt = createdAt
    }
}

/// What `campaign create` did.
package struct CampaignCreation: Sendable {
    package var campaign: Campaign
    /// People per group.
    package var groups: [String: Int]
}

/// The campaigns of a vault: creating one assigns the segment's members to its
/// groups, in the vault (`campaign_assignments`) and in each person's log (a
/// `Campaign Assigned` event, exported and erased with them).
package struct CampaignDesk {
    let vault: Vault
    let policy: Policy

    package init(vault: Vault, policy: Policy) {
        self.vault = vault
        self.policy = policy
    }

    /// Creates `campaign` over its segment's members in the marketing role's file (owner: it writes the log).
    package func create(_ campaign: Campaign, now: Int64 = EventLog.now()) throws -> CampaignCreation {
        try vault.require(.ingest, for: .campaignCreate, purpose: policy.activation.purpose, target: "campaign:\(campaign.name)")
        guard !campaign.name.isEmpty, campaign.name.count <= 64, campaign.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
            throw ActivationError.badCampaign("a campaign name is 1 to 64 letters, digits, - or _")
        }
        guard (0..<1).contains(campaign.holdout) else { throw ActivationError.badCampaign("the holdout must be a share from 0 % to below 100 %") }
        guard Set(campaign.variants.map(\.name)).count == campaign.variants.count, !campaign.variants.contains(where: { $0.name == Campaign.holdoutGroup }) else {
            throw ActivationError.badCampaign("variant names must differ, and none may be called holdout")
        }
        if let starts = campaign.starts, let ends = campaign.ends, ends <= starts {
            throw ActivationError.badCampaign("--ends must come after --starts")
        }
        if campaign.birthdaysInWindow, campaign.starts == nil || campaign.ends == nil {
            throw ActivationError.badCampaign("a birthday campaign needs --starts and --ends: the window whose birthdays it reaches")
        }
        guard let role = Role.allCases.first(where: { ActivationSubjects.held(by: $0, purpose: policy.activation.purpose, policy: policy) }),
              let file = try ActivationSubjects.members(of: campaign.segment, fields: campaign.birthdaysInWindow ? ["birthday_month"] : [],
                                                        vault: vault, policy: policy, role: role) else {
            throw ActivationError.noProjection(purpose: policy.activation.purpose)
        }
        guard file.segmentExists else { throw ActivationError.unknownSegment(campaign.segment, purpose: policy.activation.purpose) }
        var members = file.members
        if campaign.birthdaysInWindow, let starts = campaign.starts, let ends = campaign.ends {
            guard file.columns.contains("birthday_month") else { throw ActivationError.fieldNotInProjection("birthday_month", destination: campaign.name) }
            let months = Campaign.months(from: starts, to: ends)
            members = members.filter { member in member.values["birthday_month"]?.double.map { months.contains(Int($0)) } ?? false }
        }
        guard members.count >= policy.minimumGroupSize else {
            throw ActivationError.belowMinimum(segment: campaign.segment, members: members.count, minimum: policy.minimumGroupSize)
        }
        let secret = try SecureRandom.bytes(32)
        var stored = campaign
        stored.createdAt = now
        var groups: [String: Int] = [:]
        let mac = try HMACSHA256(key: secret)
        let assigned = try members.map { member -> (SubjectID, String) in
            let group = try campaign.group(of: member.subject, mac: mac)
            groups[group, default: 0] += 1
            return (member.subject, group)
        }
        let log = try vault.eventLog()
        try vault.database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM campaigns WHERE name = ?", arguments: [campaign.name]) == 0 else {
                throw ActivationError.campaignExists(campaign.name)
            }
            try db.execute(sql: "INSERT INTO campaigns(name, definition, secret, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [campaign.name, try campaign.definition(), Data(secret), now])
            let insert = try db.makeStatement(sql: "INSERT INTO campaign_assignments(campaign, subject_id, grp) VALUES (?, ?, ?)")
            var events: [NewEvent] = []
            for (subject, group) in assigned {
                try insert.execute(arguments: [campaign.name, Data(subject.bytes), group])
                let payload = try CanonicalJSON.data(["type": "track", "event": "Campaign Assigned", "timestamp": Timestamp.format(now),
                                                      "properties": ["campaign": campaign.name, "group": group,
                                                                     "channel": campaign.channel.rawValue]] as [String: Any])
                events.append(NewEvent(subject: subject, kind: .track, payload: payload, recordedAt: now, occurredAt: now))
            }
            _ = try log.append(events, in: db)
        }
        try vault.audit(.campaignCreate, purpose: policy.activation.purpose, target: "campaign:\(campaign.name)", rows: assigned.count,
                        reason: "segment \(campaign.segment), \(campaign.channel.rawValue); " + groups.sorted { $0.key < $1.key }
                            .map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        return CampaignCreation(campaign: stored, groups: groups)
    }

    /// Every campaign, oldest first.
    package func list() throws -> [Campaign] {
        try vault.database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, definition, created_at FROM campaigns ORDER BY created_at, name").map {
                try Campaign(name: $0[0], definition: $0[1], createdAt: $0[2])
            }
        }
    }

    /// The campaign named `name`, with its people per group.
    package func show(_ name: String) throws -> (campaign: Campaign, groups: [String: Int]) {
        try vault.database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT name, definition, created_at FROM campaigns WHERE name = ?", arguments: [name]) else {
                throw ActivationError.unknownCampaign(name)
            }
            var groups: [String: Int] = [:]
            for count in try Row.fetchAll(db, sql: "SELECT grp, count(*) FROM campaign_assignments WHERE campaign = ? GROUP BY grp",
                                          arguments: [name]) {
                groups[count[0]] = count[1]
            }
            return (try Campaign(name: row[0], definition: row[1], createdAt: row[2]), groups)
        }
    }

    /// Each assigned person's group (survivors of later merges included, as the table moves them).
    package func assignments(of name: String) throws -> [SubjectID: String] {
        try vault.database.read { db in
            var out: [SubjectID: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT subject_id, grp FROM campaign_assignments WHERE campaign = ?", arguments: [name]) {
                out[try SubjectID(bytes: Array(row[0] as Data))] = row[1]
            }
            return out
        }
    }
}
