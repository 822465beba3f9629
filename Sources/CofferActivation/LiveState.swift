import CofferPolicy
import CofferStore
import Foundation
import GRDB

/// The vault's state at the moment an audience leaves it, read once for the
/// whole export: who may be contacted for the purpose and on the channel now.
struct LiveState {
    private let granted: Set<SubjectID>
    private let channelGranted: Set<SubjectID>?
    private let restricted: Set<SubjectID>
    private let erased: Set<SubjectID>
    private let optedOut: Set<SubjectID>
    private let sends: [SubjectID: Int]
    private let cap: Int?
    private let survivors: [SubjectID: SubjectID]
    /// Who consents to the recommendations purpose now (nil: not read, or no such purpose).
    private let recommendable: Set<SubjectID>?

    /// `recommendations`: the export carries `recommended_items`, so consent to the recommendations
    /// purpose is read too (in the same read as the rest: one state for the whole export).
    init(vault: Vault, policy: Policy, channel: ActivationSettings.Channel, now: Int64, recommendations: Bool = false) throws {
        let settings = policy.activation
        let purpose = recommendations ? policy.analysis.recommendationsPurpose : nil
        (granted, channelGranted, restricted, erased, optedOut, sends, survivors, recommendable) = try vault.database.read { db in
            let survivors = try IdentityGraph.survivors(in: db)
            let window = settings.capWindow.map { $0.subtracting(from: now) } ?? now
            return (try ConsentLedger.subjectsGranted(settings.purpose, at: now, in: db),
                    try settings.channelConsents[channel].map { try ConsentLedger.subjectsGranted($0, at: now, in: db) },
                    try Restrictions.restricted(in: db), try Restrictions.erased(in: db),
                    try ChannelOptOuts.subjects(leaving: channel.rawValue, in: db),
                    settings.frequencyCap == nil || !channel.isMessage ? [:] : try ChannelOptOuts.sends(since: window, in: db), survivors,
                    try purpose.map { try ConsentLedger.subjectsGranted($0, at: now, in: db) })
        }
        cap = settings.frequencyCap
    }

    /// Whether `subject`'s recommendations may go out with them: consent to the recommendations
    /// purpose in force now (the projection's values were made while it was).
    func mayReceiveRecommendations(_ subject: SubjectID) -> Bool {
        recommendable?.contains(person(subject)) ?? false
    }

    /// The person a subject is now: a merge since the build moves them to a survivor.
    func person(_ subject: SubjectID) -> SubjectID { survivors[subject] ?? subject }

    /// Why `subject` may not be contacted now; nil when they may.
    func reason(leaving subject: SubjectID) -> LeftOutReason? {
        let person = person(subject)
        if erased.contains(person) || erased.contains(subject) { return .erased }
        if restricted.contains(person) { return .restricted }
        if !granted.contains(person) { return .noConsent }
        if let channelGranted, !channelGranted.contains(person) { return .noChannelConsent }
        if optedOut.contains(person) { return .optedOut }
        if let cap, sends[person, default: 0] >= cap { return .frequencyCap }
        return nil
    }
}
