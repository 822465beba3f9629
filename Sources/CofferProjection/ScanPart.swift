import CofferCrypto
import CofferPolicy
import CofferStore
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import CofferFormats

/// One thread's share of the log read: the people whose subject id falls in
/// its share, and their aggregates (one per person, merged subjects folded together).
final class ScanPart: @unchecked Sendable {
    let log: EventLog
    let survivors: [SubjectID: SubjectID]
    let share: Int, shares: Int
    let after: Int64, through: Int64
    /// Keys shared with the other parts (ranges: every part meets most people; shares: none).
    let sharedKeys: SubjectKeyCache?
    var slots: [SubjectID: Int] = [:]
    /// Where this part reports how far it has read: the reporter, the part's number, every how many events.
    var progress: (reporter: ProgressReporter, part: Int, every: Int)?
    /// The slot of the subject the scan numbered so (see `ScannedEvent.subjectNumber`), -1 until met.
    var slotsByNumber: [Int] = []
    var owners: [SubjectID] = []
    var aggregates: [CustomerAggregate] = []
    var events = 0
    var error: (any Error)?

    /// Retention cutoffs (events past them count for nothing) and event names (`CustomerAggregate.fold`).
    let rules: FoldRules

    init(log: EventLog, survivors: [SubjectID: SubjectID], share: Int, of shares: Int, after: Int64, through: Int64,
         sharedKeys: SubjectKeyCache? = nil, rules: FoldRules) {
        self.log = log
        self.rules = rules
        self.sharedKeys = sharedKeys
        self.survivors = survivors
        self.share = share
        self.shares = shares
        self.after = after
        self.through = through
    }

    /// The share a person belongs to (subject ids are random, so shares are even).
    static func share(of person: SubjectID, among shares: Int) -> Int {
        person.leadingBits % shares
    }

    /// The slot of `subject`'s person, created when new.
    private func slot(for subject: SubjectID) -> Int {
        if let known = slots[subject] { return known }
        let person = survivors[subject] ?? subject
        let slot: Int
        if let shared = slots[person] {
            slot = shared
        } else {
            slot = aggregates.count
            aggregates.append(CustomerAggregate())
            owners.append(person)
            slots[person] = slot
        }
        slots[subject] = slot
        return slot
    }

    /// Starts from an aggregate the last build saved.
    func seed(_ subject: SubjectID, _ aggregate: CustomerAggregate) {
        let fresh = aggregates.count
        let slot = slot(for: subject)
        // A person met for the first time takes the saved aggregate as it is (absorbing it into an
        // empty one gives the same, day by day); a second subject of the same person is absorbed.
        if slot == fresh { aggregates[slot] = aggregate } else { aggregates[slot].absorb(aggregate) }
    }

    /// Drops what the part read once it has been collected.
    func release() {
        slots = [:]
        slotsByNumber = []
        owners = []
        aggregates = []
    }

    func run() {
        let survivors = self.survivors, share = self.share, shares = self.shares, sharedKeys = self.sharedKeys
        let progress = self.progress, after = self.after, rules = self.rules
        // One set of fields for every event: its slots are allocated once, not per event.
        var fields = PayloadFields()
        do {
            _ = try log.database.read { db in
                try log.scan(kinds: ProjectionBuilder.kinds, afterSeq: after, throughSeq: through, in: db,
                             including: shares == 1 ? nil : { subject in
                                 ScanPart.share(of: survivors.isEmpty ? subject : survivors[subject] ?? subject, among: shares) == share
                             }, sharedKeys: sharedKeys) { event in
                    // The slot of each subject the scan numbers, found once by id.
                    let number = event.subjectNumber
                    while slotsByNumber.count <= number { slotsByNumber.append(-1) }
                    if slotsByNumber[number] < 0 { slotsByNumber[number] = slot(for: event.subject) }
                    guard PayloadFields.scan(event.payload, into: &fields) else { return }
                    aggregates[slotsByNumber[number]].fold(kind: event.kind, payload: fields, rules: rules)
                    events += 1
                    if let progress, events % progress.every == 0 { progress.reporter.read(part: progress.part, rows: event.seq - after) }
                }
            }
        } catch {
            self.error = error
        }
    }
}
