import CofferCrypto
package import CofferPolicy
package import CofferStore
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import CofferFormats

extension AuditAction {
    /// `project build`: one entry per projection file written.
    package static let projectBuild = AuditAction(rawValue: "project-build")
}

/// What one build wrote.
package struct ProjectionSummary: Sendable, Equatable {
    package var purpose: String
    package var role: Role
    /// People in the file (consent / lawful basis applied).
    package var subjects: Int
    /// People left out for lack of consent.
    package var withoutConsent: Int
    package var columns: [String]
    /// Segments materialised, and those skipped because a field they read is denied.
    package var segments: [String]
    package var skippedSegments: [String]
    package var bytes: Int
    /// The sizes of the segments the file lists (for `segment_history`).
    package var segmentSizes: [String: Int] = [:]
}

/// What `build` did.
package struct BuildReport: Sendable {
    package var events = 0
    package var people = 0
    /// People left out because their processing is restricted.
    package var restricted = 0
    /// Where reading started: 0 for a full read, else the last build's position (incremental).
    package var startSeq: Int64 = 0
    package var lastSeq: Int64 = 0
    package var projections: [ProjectionSummary] = []
    /// Where the build's time went.
    package var timings = BuildTimings()
}

/// Seconds a build spent in each phase.
package struct BuildTimings: Sendable {
    /// Reading the log into aggregates (with loading the saved state).
    package var read = 0.0
    /// Saving the state for the next incremental build: done beside the file
    /// writes, so it is part of `write`'s time, not added to it.
    package var state = 0.0
    /// Fitting the purchase models, scoring RFM and finding product affinities, once for all files.
    package var analysis = 0.0
    /// Computing, transforming, encrypting and writing the projection files (and saving the state),
    /// with each file's cohort and pattern tables.
    package var write = 0.0

    package init() {}
}

/// How far a build has got, for progress displays. Reported from the build's
/// threads, one report at a time.
package enum BuildProgress: Sendable, Equatable {
    /// Reading the log: the share of the part to read that has been read (0…1).
    case reading(Double)
    /// Writing the files: `done` of `total` written, the last one being `purpose`.`role`.
    case wrote(purpose: String, role: Role, done: Int, total: Int)
}

/// Passes progress on one report at a time, whichever thread it comes from.
final class ProgressReporter: Sendable {
    private struct State {
        /// How far each reading thread is into its part of the log, and the parts' total length.
        var positions: [Int64] = []
        var span: Int64 = 0
        var written = 0
    }

    private let state = Mutex(State())
    private let report: @Sendable (BuildProgress) -> Void

    init(_ report: @escaping @Sendable (BuildProgress) -> Void) { self.report = report }

    /// Starts a read of `parts` parts, `span` rows in all.
    func startReading(parts: Int, span: Int64) {
        state.withLock { $0.positions = Array(repeating: 0, count: parts); $0.span = max(span, 1) }
    }

    /// Part `part` has read `rows` rows of its range.
    func read(part: Int, rows: Int64) {
        state.withLock {
            $0.positions[part] = rows
            report(.reading(min(Double($0.positions.reduce(0, +)) / Double($0.span), 1)))
        }
    }

    /// One more file is written.
    func wrote(purpose: String, role: Role, total: Int) {
        state.withLock {
            $0.written += 1
            report(.wrote(purpose: purpose, role: role, done: $0.written, total: total))
        }
    }
}

/// Folds the log into the per-purpose projections: decrypts every event with
/// its subject key, combines merged subjects into one person, computes the
/// single view, keeps only people whose consent (or the purpose's other lawful
/// basis) covers the purpose, transforms every field as the policy says for each
/// role with access, evaluates the segments, and writes one encrypted database
/// per purpose and role.
///
/// Incremental where it can be: the aggregates of the last build are kept
/// (sealed, `projections/build-state.enc`) with the log position they reached,
/// and the next build reads only the events after it. It falls back to a full
/// read when there is no usable state, when subjects were merged since (a merge
/// re-orders whose events fold together), or when asked (`incremental = false`).
/// Either way the result is the same as a full build: the same log, policy and
/// time give the same projections.
package final class ProjectionBuilder {
    let vault: Vault
    let policy: Policy
    private let engine: PolicyEngine
    private let segments: [SegmentDefinition]
    /// How many threads read the log (nil: one per core, at most 4; one when
    /// fewer than 50,000 events are to be read).
    package var scanParts: Int?
    /// How the threads divide the log (nil: by range up to `rangeReadLimit` subjects, by people beyond).
    package var readSplit: ReadSplit?
    /// Up to this many subjects, threads read ranges of the log (see `ReadSplit`).
    package static let rangeReadLimit = 250_000

    /// How reading threads divide the work.
    package enum ReadSplit: Sendable {
        /// Each thread reads a consecutive range of the log, and the partial
        /// aggregates of a person are combined after: every row is read once,
        /// but a person's aggregate may exist once per thread meanwhile.
        case logRanges
        /// Each thread reads every row and folds only its share of the people:
        /// each aggregate exists once (for large vaults), every row is stepped by every thread.
        case people
    }
    /// Each reading thread reports its progress every this many events.
    var progressEvery = 32_768
    /// Start from the last build's state when it is usable (false: read the whole log).
    package var incremental = true
    /// Fit the models, score RFM, recommend and write the pattern tables (false: the analysis
    /// columns are null and the tables empty; `bench project` measures what the analysis adds).
    package var analyse = true
    /// Write the projection files in parallel (nil: when there are at most `parallelWriteLimit` people).
    package var parallelWrites: Bool?
    /// Above this many people, files are written one at a time to bound memory.
    package static let parallelWriteLimit = 250_000

    /// - Throws: `VaultError.notPermitted` unless the actor may build projections.
    package init(vault: Vault, policy: Policy, segments: [SegmentDefinition]) throws {
        try vault.require(.buildProjections, for: .projectBuild)
        try vault.usePolicy(sha256: policy.sha256, name: policy.name)
        self.vault = vault
        self.policy = policy
        engine = PolicyEngine(policy: policy)
        self.segments = segments
    }

    /// Every event kind the single view reads.
    package static let kinds: Set<EventKind> = [.identify, .track, .page, .screen, .rectify]

    /// What reading the log gave.
    package struct Aggregates {
        package var people: [SubjectID: CustomerAggregate]
        /// Events read (only those after `startSeq` when incremental).
        package var events: Int
        /// The log position read from (0: the whole log) and up to.
        package var startSeq: Int64
        package var lastSeq: Int64
    }

    /// Reads the log into one aggregate per person (merged subjects combined),
    /// starting from the saved state when `incremental` and it is usable.
    package func aggregates(now: Int64 = EventLog.now(), progress: @escaping @Sendable (BuildProgress) -> Void = { _ in }) throws -> Aggregates {
        let read = try read(progress: ProgressReporter(progress), cutoffs: RetentionCutoffs(policy: policy, now: now))
        return Aggregates(people: Dictionary(uniqueKeysWithValues: read.people.lazy.map { ($0.key, $0.value) }), events: read.events,
                          startSeq: read.startSeq, lastSeq: read.lastSeq)
    }

    /// People and their aggregates in subject-id order, and what was read.
    struct Read {
        var people: [(key: SubjectID, value: CustomerAggregate)]
        var events: Int
        var startSeq: Int64
        var lastSeq: Int64
    }

    /// Reads the log on as many threads as there are cores (at most 4), split
    /// as `readSplit` says: by ranges of the log for vaults of up to
    /// `rangeReadLimit` subjects (every row read once; partial aggregates
    /// combined in log order after), by people beyond (each thread folds only
    /// its share of subject ids, so each aggregate exists once and memory stays
    /// at one aggregate per person).
    func read(progress: ProgressReporter, cutoffs: RetentionCutoffs) throws -> Read {
        let rules = FoldRules(policy: policy, cutoffs: cutoffs)
        let sealKey = try vault.keys().stateSeal
        let (survivors, lastSeq, lastMerge, subjects) = try vault.database.read { db -> ([SubjectID: SubjectID], Int64, Int64, Int) in
            // Every table that decides who is in a projection must be as the vault wrote it.
            try StateSeals.verify(StateSeals.membershipTables.map(\.name), key: sealKey, in: db, path: vault.layout.database.path)
            return (try IdentityGraph.survivors(in: db), try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0,
                    try Int64.fetchOne(db, sql: "SELECT max(seq) FROM merges") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT DISTINCT subject_id FROM keyring)") ?? 0)
        }
        // The saved state is usable when it is within the log and no merge came after it
        // (a merge changes whose events fold together).
        // It was folded with today's retention cutoffs under this policy: on another day, or under
        // another policy, events it counted may have expired since, and sums cannot be undone.
        let state = incremental ? try BuildState.load(vault: vault).flatMap {
            $0.lastSeq <= lastSeq && $0.lastSeq >= lastMerge && $0.cutoffDay == cutoffs.day && $0.policySHA256 == policy.sha256 ? $0 : nil
        } : nil
        let startSeq = state?.lastSeq ?? 0
        let span = lastSeq - startSeq
        let count = max(scanParts ?? Self.readThreads(events: span), 1)
        let byRanges = count > 1 && (readSplit ?? (subjects <= Self.rangeReadLimit ? .logRanges : .people)) == .logRanges
        func bound(_ index: Int) -> Int64 { startSeq + span * Int64(index) / Int64(count) }
        let keys = SubjectKeyCache()
        let parts = try (0..<count).map { index in
            let part = byRanges
                ? ScanPart(log: try vault.logReader(), survivors: survivors, share: 0, of: 1, after: bound(index), through: bound(index + 1),
                           sharedKeys: keys, rules: rules)
                : ScanPart(log: try vault.logReader(), survivors: survivors, share: index, of: count, after: startSeq, through: lastSeq,
                           rules: rules)
            part.progress = (progress, index, progressEvery)
            return part
        }
        progress.startReading(parts: count, span: byRanges ? span : span * Int64(count))
        if let state {
            // A subject whose keys are gone was erased: nothing of it is kept.
            let live = try vault.database.read { db in
                Set(try Data.fetchAll(db, sql: "SELECT DISTINCT subject_id FROM keyring").map { try SubjectID(bytes: Array($0)) })
            }
            for (subject, aggregate) in state.people where live.contains(subject) {
                // The state comes before every event read now: the first range, or the person's share.
                parts[byRanges ? 0 : ScanPart.share(of: survivors[subject] ?? subject, among: count)].seed(subject, aggregate)
            }
        }
        if span > 0 { DispatchQueue.concurrentPerform(iterations: parts.count) { parts[$0].run() } }
        var people: [(key: SubjectID, value: CustomerAggregate)] = []
        // Ranges each hold some of the same people; shares hold disjoint ones.
        people.reserveCapacity(byRanges ? parts.map(\.owners.count).max() ?? 0 : parts.map(\.owners.count).reduce(0, +))
        var positions: [SubjectID: Int] = [:]
        var events = 0
        for part in parts {
            if let error = part.error { throw error }
            events += part.events
            for (owner, aggregate) in zip(part.owners, part.aggregates) {
                // Ranges are combined in log order, so later events still win ties, as in one pass.
                if byRanges, let position = positions[owner] {
                    people[position].value.absorb(aggregate)
                } else {
                    if byRanges { positions[owner] = people.count }
                    people.append((owner, aggregate))
                }
            }
            part.release()
        }
        // Sorted by subject id through their positions: aggregates are moved once, not at every merge step.
        let order = people.indices.sorted { people[$0].key < people[$1].key }
        people = order.map { people[$0] }
        return Read(people: people, events: events, startSeq: startSeq, lastSeq: lastSeq)
    }

    /// How many threads read `events` rows of the log when `scanParts` does not say: one per
    /// core, at most 4; one below 50,000 rows.
    package static func readThreads(events: Int64) -> Int {
        events < 50_000 ? 1 : min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)
    }

    /// What saving this build's state takes, fetched before the files are
    /// written (the save then runs beside them): nil for an empty log.
    private func stateSaver(_ people: [(key: SubjectID, value: CustomerAggregate)], lastSeq: Int64,
                            cutoffs: RetentionCutoffs) throws -> (@Sendable () throws -> Void)? {
        let hash = try vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [lastSeq]).map(Array.init)
        }
        guard let hash else { return nil }   // an empty log: nothing to keep
        let state = BuildState(lastSeq: lastSeq, lastHash: hash, cutoffDay: cutoffs.day, policySHA256: policy.sha256, people: people)
        let (key, layout, vaultID) = (try vault.keys().projectionState(), vault.layout, vault.vaultID)
        return { try state.save(layout: layout, vaultID: vaultID, key: key) }
    }

    /// Deletes the saved build state (erasure: it holds the erased person's
    /// aggregate). Returns whether there was one.
    @discardableResult
    package static func forgetState(_ layout: VaultLayout) throws -> Bool {
        try BuildState.remove(layout)
    }

    /// Builds the projections of `purposes` (all declared ones when nil).
    package func build(purposes names: [String]? = nil, now: Int64 = EventLog.now(),
                      progress: @escaping @Sendable (BuildProgress) -> Void = { _ in }) throws -> BuildReport {
        let reporter = ProgressReporter(progress)
        let purposes = try purposes(named: names)
        var phase = Date()
        func lap() -> Double {
            defer { phase = Date() }
            return Date().timeIntervalSince(phase)
        }
        var timings = BuildTimings()
        let cutoffs = RetentionCutoffs(policy: policy, now: now)
        var read = try read(progress: reporter, cutoffs: cutoffs)
        timings.read = lap()
        let events = read.events, lastSeq = read.lastSeq
        // The state keeps everyone read (restricted people too): saved while the files are written.
        var saveState = try stateSaver(read.people, lastSeq: lastSeq, cutoffs: cutoffs)
        // Restricted people (GDPR Art. 18) are kept in the log but left out of every projection.
        let restricted = try leftOutEverywhere()
        let before = read.people.count
        if !restricted.isEmpty {
            // Saved first here: leaving people out while the state still holds them would copy them all.
            try saveState?()
            saveState = nil
            read.people.removeAll { restricted.contains($0.key) }
        }
        var report = BuildReport(events: events, people: read.people.count, restricted: before - read.people.count,
                                 startSeq: read.startSeq, lastSeq: lastSeq)

        let (granted, objecting) = try consentInForce(at: now)
        let currentMonth = Self.month(of: now)
        // People in subject-id order (a stable order).
        let ordered = read.people
        read.people = []
        let consentPurposes = policy.purposes.filter(\.needsConsent).map(\.name)
        let grantedSets = consentPurposes.map { granted[$0] ?? [] }
        timings.read += lap()
        let patternCache = PatternCache(minimumGroupSize: policy.minimumGroupSize)
        // The pattern tables of everyone (the files without consent or objections hold them all),
        // computed beside the fits.
        let everyone = analyse ? patternCache.prepare(PatternTables.People(all: ordered, positions: Array(ordered.indices))) : nil
        let analysis = analyse
            ? CustomerAnalysis(people: ordered, now: now, settings: policy.analysis,
                               recommendable: policy.analysis.recommendationsPurpose.map { granted[$0] ?? [] },
                               minimumGroupSize: policy.minimumGroupSize)
            : CustomerAnalysis(skipping: ordered.count)
        everyone?.wait()
        timings.analysis = lap()
        let computeRow: @Sendable (Int) -> [Cell] = { position in
            let (subject, aggregate) = ordered[position]
            return SingleView.row(aggregate, subject: subject, now: now, consents: grantedSets.map { $0.contains(subject) },
                                  analysis: analysis.people[position])
        }
        let allColumns = SingleViewColumn.names + consentPurposes.map { SingleView.consentColumn($0) }
        // Each file computes the rows of its people as it writes them. A table of every row computed
        // once for all files (~1.6 KB a person in cells) was 160–215 MiB of a 100,000-person build's
        // peak, against 0.6 s more of writing without it (measured alternating, one binary).
        let parallel = parallelWrites ?? (ordered.count <= Self.parallelWriteLimit)
        // Each person's key (user id, else subject id) once, for every file's customer_id.
        let customerKeys = ordered.map { SingleView.customerKey($0.value, subject: $0.key) }

        let jobs = try fileJobs(for: purposes)
        // Largest files first, the state save after them: the threads then finish together
        // (in policy order, a thread sat idle for a third of the phase while another wrote a large file).
        func people(in purpose: Purpose) -> Int { purpose.needsConsent ? granted[purpose.name]?.count ?? 0 : ordered.count }
        let schedule = jobs.indices.sorted { people(in: jobs[$0].purpose) > people(in: jobs[$1].purpose) }
            + (saveState == nil ? [] : [jobs.count])
        let stateSave = saveState
        let writer = ProjectionWriter(actor: vault.actor, vaultID: vault.vaultID, layout: vault.layout, policy: policy, engine: engine,
                                      segments: segments, patterns: analyse,
                                      patternCache: patternCache,
                                      subjectMapKey: try vault.keys().projectionState())
        let work = jobs, consent = granted, objections = objecting
        let histories = try vault.database.read { db in
            try jobs.map { try SegmentHistory.load(purpose: $0.purpose.name, role: $0.role, in: db) }
        }
        let stateSeconds = Mutex(0.0)   // written by the state task, read after all tasks end
        // Each file being written holds its database and its serialised image (~700 bytes a
        // person together): files go in parallel while that stays small, one at a time beyond.
        let rows = RowSource(compute: computeRow)
        let outcomes = parallelMap(schedule.count, parallel: parallel) { step -> ProjectionSummary? in
            let index = schedule[step]
            guard index < work.count else {
                let clock = Date()
                try stateSave?()
                let seconds = Date().timeIntervalSince(clock)
                stateSeconds.withLock { $0 = seconds }
                return nil
            }
            let (purpose, role, key) = (work[index].purpose, work[index].role, work[index].key)
            let includes = Self.holds(purpose, granted: consent, objecting: objections)
            let summary = try writer.write(purpose: purpose, role: role, fileKey: key, people: ordered, customerKeys: customerKeys,
                                           including: includes,
                                           rows: rows, columns: allColumns, analysis: analysis, now: now, lastSeq: lastSeq,
                                           currentMonth: currentMonth, history: histories[index])
            reporter.wrote(purpose: purpose.name, role: role, total: work.count)
            return summary
        }
        timings.write = lap()
        timings.state = stateSeconds.withLock { $0 }
        report.timings = timings
        var results = [Result<ProjectionSummary?, any Error>?](repeating: nil, count: schedule.count)
        for (step, index) in schedule.enumerated() { results[index] = outcomes[step] }
        try audit(results, of: jobs, stateSaved: stateSave != nil, builtAt: now, into: &report)
        return report
    }

    /// The purposes `names` names (every declared one when nil), in policy order.
    private func purposes(named names: [String]?) throws -> [Purpose] {
        try (names ?? policy.purposes.map(\.name)).map { name -> Purpose in
            guard let purpose = policy.purpose(name) else {
                throw ConsentError.unknownPurpose(name, declared: policy.purposes.map(\.name))
            }
            return purpose
        }
    }

    /// Who each purpose may hold at `now`: the people whose consent is in force,
    /// per consent-based purpose, and the people who objected (Art. 21), per purpose
    /// that rests on legitimate interests or a public task.
    func consentInForce(at now: Int64) throws -> (granted: [String: Set<SubjectID>], objecting: [String: Set<SubjectID>]) {
        try Self.consentInForce(at: now, purposes: policy.purposes, vault: vault)
    }

    static func consentInForce(at now: Int64, purposes: [Purpose],
                               vault: Vault) throws -> (granted: [String: Set<SubjectID>], objecting: [String: Set<SubjectID>]) {
        let ledger = try vault.consentLedger()
        var granted: [String: Set<SubjectID>] = [:], objecting: [String: Set<SubjectID>] = [:]
        try vault.database.read { db in
            for purpose in purposes {
                if purpose.needsConsent {
                    granted[purpose.name] = try ledger.subjectsGranted(purpose.name, at: now, in: db)
                } else {
                    objecting[purpose.name] = try ledger.subjectsObjecting(purpose.name, in: db)
                }
            }
        }
        return (granted, objecting)
    }

    /// Whether `purpose` may hold a person, given `consentInForce`: their consent is in
    /// force, or (for a purpose on another lawful basis) they did not object. The one
    /// rule the files of a build and `analyze clv` both apply.
    static func holds(_ purpose: Purpose, granted: [String: Set<SubjectID>],
                      objecting: [String: Set<SubjectID>]) -> @Sendable (SubjectID) -> Bool {
        if purpose.needsConsent {
            let consenting = granted[purpose.name] ?? []
            return { consenting.contains($0) }
        }
        let objected = objecting[purpose.name] ?? []
        return { !objected.contains($0) }
    }

    /// Restricted (Art. 18) and erased people: in no projection and no analysis.
    func leftOutEverywhere() throws -> Set<SubjectID> {
        try Self.leftOutEverywhere(vault)
    }

    static func leftOutEverywhere(_ vault: Vault) throws -> Set<SubjectID> {
        try vault.database.read { try Restrictions.restricted(in: $0).union(Restrictions.erased(in: $0)) }
    }

    /// Whether `purpose` may hold a person at `now`, by the vault's state now (consent, objection,
    /// restriction, erasure): the rule a build applies, for a file built earlier (`coffer publish`).
    package static func holder(of purpose: Purpose, vault: Vault, at now: Int64) throws -> @Sendable (SubjectID) -> Bool {
        let (granted, objecting) = try consentInForce(at: now, purposes: [purpose], vault: vault)
        let holds = holds(purpose, granted: granted, objecting: objecting), excluded = try leftOutEverywhere(vault)
        return { holds($0) && !excluded.contains($0) }
    }

    /// One file to write: a purpose, for a role, and its file key.
    struct FileJob: Sendable {
        var purpose: Purpose
        var role: Role
        var key: SymmetricKey
    }

    /// One job per file, each written on its own in-memory database and cipher contexts from
    /// immutable inputs (keys are derived here, first, since the vault caches them).
    private func fileJobs(for purposes: [Purpose]) throws -> [FileJob] {
        var jobs: [FileJob] = []
        for purpose in purposes {
            for role in Role.allCases where policy.access[role]?.purposes[purpose.name] != nil
                && role.permissions.contains(.readProjections) && Self.fileRole(for: role, purpose: purpose.name, policy: policy) == role {
                jobs.append(FileJob(purpose: purpose, role: role, key: try ProjectionFile.fileKey(vault.projectionKey(for: role), purpose: purpose.name)))
            }
        }
        return jobs
    }

    /// Audits every file written, in policy order, then reports the first failure (a file's,
    /// else the state save's, the last result): a failure never hides what was written.
    private func audit(_ results: [Result<ProjectionSummary?, any Error>?], of jobs: [FileJob], stateSaved: Bool, builtAt: Int64,
                       into report: inout BuildReport) throws {
        var failure: (any Error)?
        for (index, job) in jobs.enumerated() {
            switch results[index]! {
            case let .success(summary?):
                report.projections.append(summary)
                try vault.database.write { db in
                    try SegmentHistory.save(summary.segmentSizes, purpose: job.purpose.name, role: job.role, builtAt: builtAt, in: db)
                }
                try vault.audit(.projectBuild, purpose: job.purpose.name, target: "projection:\(job.purpose.name).\(job.role.rawValue)",
                                rows: summary.subjects, reason: "\(report.events) events read up to seq \(report.lastSeq)")
            case let .failure(error):
                failure = failure ?? error
            case .success(nil):
                break
            }
        }
        if stateSaved, case let .failure(error)? = results[jobs.count] { failure = failure ?? error }
        if let failure { throw failure }
    }


    /// The SQL type of a column of the view as `decision` writes it: transformed values are text.
    static func sqlType(of column: String, decision: Decision) -> String {
        guard decision.transform == .allow else { return "TEXT" }
        let type = SingleViewColumn.named(column)?.type ?? (column.hasPrefix("consent_") ? SingleViewColumn.consentType : .text)
        return type.rawValue
    }

    /// Binds one value to a prepared statement (raw binds: GRDB's argument
    /// boxing cost more than the insert itself). Text is copied by SQLite at once.
    static func bind(_ cell: Cell, at position: Int32, of handle: OpaquePointer) {
        switch cell {
        case .null: sqlite3_bind_null(handle, position)
        case let .integer(value): sqlite3_bind_int64(handle, position, Int64(value))
        case let .real(value): sqlite3_bind_double(handle, position, value)
        case let .text(text): bind(text: text, at: position, of: handle)
        }
    }

    /// Binds text without wrapping it in a `Cell` (segment members: a wrap retained and released each id).
    static func bind(text: String, at position: Int32, of handle: OpaquePointer) {
        var text = text
        text.withUTF8 { utf8 in
            _ = sqlite3_bind_text(handle, position, UnsafeRawPointer(utf8.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                .assumingMemoryBound(to: CChar.self), Int32(utf8.count), Self.transient)
        }
    }

    /// Runs a bound insert once.
    static func step(_ handle: OpaquePointer, _ operation: String) throws {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else { throw VaultError.storage(operation: operation, detail: "SQLite error \(rc)") }
    }

    /// The indices of `ids` in byte order of their UTF-8 (the order SQLite's
    /// BINARY collation keeps them in). Sorts 8-byte prefixes as numbers and
    /// compares whole strings only on ties: comparing every pair through the
    /// strings' UTF-8 views cost a fifth of writing the files.
    static func byteOrder(of ids: [String]) -> [Int] {
        var keys = ids.enumerated().map { index, id -> (prefix: UInt64, index: Int) in
            var prefix: UInt64 = 0, count = 0
            for byte in id.utf8.prefix(8) {
                prefix = prefix << 8 | UInt64(byte)
                count += 1
            }
            return (prefix << (8 * UInt64(8 - count)), index)
        }
        keys.sort { a, b in
            if a.prefix != b.prefix { return a.prefix < b.prefix }
            return ids[a.index].precedesInByteOrder(ids[b.index])
        }
        return keys.map(\.index)
    }

    /// Members inserted by one statement: a statement's run costs about as much as a member's row.
    static let membersPerInsert = 64

    /// Local suppression: one column at a time (times first, then amounts,
    /// the total last), the rows whose combination of the linkage columns
    /// (a missing value counting as a value) is shared by fewer than `minimum`
    /// people lose that column. Afterwards every combination left is shared by
    /// at least `minimum` rows, or holds nothing to join on.
    /// - Returns: the cells set to NULL.
    static func suppressRareCombinations(_ values: inout [[Cell]], rules: [Generalisation], minimum: Int) -> Int {
        let times = rules.indices.filter { if case .round = rules[$0] { return false } else { return true } }
        let amounts = rules.indices.filter { if case .round = rules[$0] { return true } else { return false } }
        var cells = 0
        for column in times + amounts.reversed() {
            var counts: [[Cell]: Int] = [:]
            counts.reserveCapacity(values.count)
            for row in values { counts[row, default: 0] += 1 }
            for entry in values.indices where values[entry][column] != .null && counts[values[entry]]! < minimum {
                values[entry][column] = .null
                cells += 1
            }
        }
        return cells
    }

    /// The role whose file `role` reads for `purpose`: its own, except compliance,
    /// which reads the owner's file when the owner has one (no file of its own is built).
    static func fileRole(for role: Role, purpose: String, policy: Policy) -> Role {
        role == .compliance && policy.access[.owner]?.purposes[purpose] != nil ? .owner : role
    }

    /// Roles to whom no group smaller than the minimum group size is shown (the
    /// owner and compliance answer for individual people and see them).
    static func groupsProtected(for role: Role) -> Bool { role != .owner && role != .compliance }

    /// `INSERT` of `rows` segment members: `?1` the segment, `?2`… the ids.
    static func memberInsertSQL(rows: Int) -> String {
        "INSERT INTO segment_members VALUES " + (0..<rows).map { "(?1, ?\($0 + 2))" }.joined(separator: ", ")
    }

    /// Inserts `(segment, id)` for every id, `membersPerInsert` rows a statement
    /// (`batch`: `INSERT … VALUES (?1, ?2), (?1, ?3), …` with that many rows; the
    /// segment is bound once), the rest one at a time (`single`).
    static func insert(_ ids: [String], of segment: String, batch: Statement, single: Statement) throws {
        let (many, one) = (batch.sqliteStatement, single.sqliteStatement)
        for handle in [many, one] {
            sqlite3_reset(handle)
            bind(.text(segment), at: 1, of: handle)
        }
        var start = 0
        while ids.count - start >= membersPerInsert {
            for offset in 0..<membersPerInsert { bind(text: ids[start + offset], at: Int32(offset + 2), of: many) }
            try step(many, "writing a projection's segment members")
            start += membersPerInsert
        }
        for id in ids[start...] {
            bind(text: id, at: 2, of: one)
            try step(one, "writing a projection's segment members")
        }
    }

    /// SQLite copies bound text at once (SQLITE_TRANSIENT).
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func month(of millis: Int64) -> Int {
        Int(Timestamp.format(millis).split(separator: "-")[1]) ?? 1
    }
}
