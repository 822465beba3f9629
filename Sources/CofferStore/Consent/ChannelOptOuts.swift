import Foundation
package import GRDB

/// A person leaving a channel: an unsubscribe, a hard bounce or a spam
/// complaint, from Segment's spec events (`Email Unsubscribed`, `Email
/// Bounced`, `Email Marked as Spam`, `Unsubscribed` with `properties.channel`,
/// `SMS Opted Out`, …) or an email tool's webhook imported as such events.
/// Kept per subject and channel in `channel_opt_outs`; no audience for the
/// channel includes the person again.
package struct ChannelOptOut: Sendable, Equatable {
    package var channel: String
    /// `unsubscribed`, `bounced` or `complained`.
    package var reason: String

    package init(channel: String, reason: String) {
        self.channel = channel
        self.reason = reason
    }

    /// The opt-out a track event named `event` stands for; nil when it is none.
    /// `channel` is its `properties.channel` (a generic `Unsubscribed` names it; email by default).
    package init?(event: String, channel: String?) {
        let name = event.lowercased()
        let reason: String
        if name.hasSuffix("unsubscribed") || name.hasSuffix("opted out") || name.hasSuffix("opt out") {
            reason = "unsubscribed"
        } else if name.hasSuffix("bounced") {
            reason = "bounced"
        } else if name.hasSuffix("marked as spam") || name.hasSuffix("complained") || name.hasSuffix("spam reported") {
            reason = "complained"
        } else {
            return nil
        }
        let prefix = name.split(separator: " ").first.map(String.init) ?? ""
        let known = ["email", "sms", "push"]
        let named = known.contains(prefix) ? prefix : channel?.lowercased()
        // A bounce or complaint is an email's unless it says otherwise.
        guard let resolved = named ?? (name == "unsubscribed" || reason != "unsubscribed" ? "email" : nil), known.contains(resolved) else {
            return nil
        }
        self.init(channel: resolved, reason: reason)
    }
}

/// The `channel_opt_outs` table: who left which channel, when and why.
package enum ChannelOptOuts {
    static let migration = """
        -- Channels a person left (unsubscribe, bounce, spam complaint): no audience for the
        -- channel includes them again. Random subject ids only; erased with the person.
        CREATE TABLE channel_opt_outs (
            subject_id  BLOB NOT NULL,
            channel     TEXT NOT NULL,
            reason      TEXT NOT NULL,
            since       INTEGER NOT NULL,
            seq         INTEGER NOT NULL,
            PRIMARY KEY (subject_id, channel)
        ) WITHOUT ROWID;

        -- Messages sent to a person, by channel and export: the frequency cap counts them.
        -- Random subject ids only; erased with the person.
        CREATE TABLE activation_sends (
            subject_id  BLOB NOT NULL,
            channel     TEXT NOT NULL,
            export_id   TEXT NOT NULL,
            at          INTEGER NOT NULL,
            PRIMARY KEY (subject_id, export_id)
        ) WITHOUT ROWID;
        CREATE INDEX activation_sends_by_time ON activation_sends(at);

        -- Campaigns: a segment, a channel, a holdout share and variants, and the secret that
        -- assigns people to groups (HMAC of the person's id: stable and unbiased).
        CREATE TABLE campaigns (
            name        TEXT PRIMARY KEY NOT NULL,
            definition  TEXT NOT NULL,       -- canonical JSON: segment, channel, holdout, variants, window
            secret      BLOB NOT NULL,
            created_at  INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- Who is in which group of a campaign (also a `Campaign Assigned` event in the person's log,
        -- so it is exported and erased with them). Random subject ids only; erased with the person.
        CREATE TABLE campaign_assignments (
            campaign    TEXT NOT NULL,
            subject_id  BLOB NOT NULL,
            grp         TEXT NOT NULL,       -- holdout, or a variant's name
            PRIMARY KEY (campaign, subject_id)
        ) WITHOUT ROWID;
        """

    /// Records that `subject` left `optOut.channel` (the first opt-out of a channel stays).
    package static func record(_ optOut: ChannelOptOut, subject: SubjectID, at time: Int64, seq: Int64, in db: Database) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO channel_opt_outs(subject_id, channel, reason, since, seq) VALUES (?, ?, ?, ?, ?)",
                       arguments: [Data(subject.bytes), optOut.channel, optOut.reason, time, seq])
    }

    /// Everyone who left `channel`.
    package static func subjects(leaving channel: String, in db: Database) throws -> Set<SubjectID> {
        Set(try Data.fetchAll(db, sql: "SELECT subject_id FROM channel_opt_outs WHERE channel = ?", arguments: [channel])
            .map { try SubjectID(bytes: Array($0)) })
    }

    /// The survivor of a merge takes over the absorbed subject's opt-outs and sends.
    package static func merge(absorbed: SubjectID, into survivor: SubjectID, in db: Database) throws {
        for table in ["channel_opt_outs", "activation_sends", "campaign_assignments"] {
            try db.execute(sql: "UPDATE OR IGNORE \(table) SET subject_id = ? WHERE subject_id = ?",
                           arguments: [Data(survivor.bytes), Data(absorbed.bytes)])
            try db.execute(sql: "DELETE FROM \(table) WHERE subject_id = ?", arguments: [Data(absorbed.bytes)])
        }
    }

    /// Messages sent to each person since `time`.
    package static func sends(since time: Int64, in db: Database) throws -> [SubjectID: Int] {
        var counts: [SubjectID: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT subject_id, count(*) FROM activation_sends WHERE at >= ? GROUP BY subject_id",
                                    arguments: [time]) {
            counts[try SubjectID(bytes: Array(row[0] as Data))] = row[1]
        }
        return counts
    }

    /// Notes one message to each of `subjects` on `channel` for export `id`.
    package static func noteSends(_ subjects: [SubjectID], channel: String, export id: String, at time: Int64, in db: Database) throws {
        let statement = try db.makeStatement(sql: "INSERT OR IGNORE INTO activation_sends(subject_id, channel, export_id, at) VALUES (?, ?, ?, ?)")
        for subject in subjects { try statement.execute(arguments: [Data(subject.bytes), channel, id, time]) }
    }
}
