import CofferAnalysis
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferStore
import Foundation
import GRDB
import GRDBSQLite

/// Writes one projection file (a purpose, for a role) from the people a build
/// read: every field transformed as the policy says, segments, the linkage and
/// group-size protections, then sealed. A value of immutable inputs, so the
/// files of one build are written on several threads at once.
struct ProjectionWriter: Sendable {
    let actor: String
    let vaultID: [UInt8]
    let layout: VaultLayout
    let policy: Policy
    let engine: PolicyEngine
    let segments: [SegmentDefinition]
    /// Whether to fill the cohort and pattern tables (they are created either way).
    var patterns = true
    /// The build's pattern tables, shared by files of the same people.
    let patternCache: PatternCache
    /// Seals each file's `SubjectMap` (the vault's build-state key).
    let subjectMapKey: SymmetricKey

    func write(purpose: Purpose, role: Role, fileKey: SymmetricKey, people: [(key: SubjectID, value: CustomerAggregate)],
                                 customerKeys: [String],
                                 including: (SubjectID) -> Bool,
                                 rows: RowSource, columns allColumns: [String], analysis: CustomerAnalysis,
                                 now: Int64, lastSeq: Int64, currentMonth: Int, history: [SegmentHistory.Row] = []) throws -> ProjectionSummary {
        let transformer = try FieldTransformer(key: fileKey)
        let recommends = policy.analysis.recommendationsPurpose == purpose.name
        let decisions = allColumns.map {
            engine.decide(actor: actor, role: role, purpose: purpose.name, action: .query, field: $0)
        }
        let index = Dictionary(uniqueKeysWithValues: allColumns.enumerated().map { ($1, $0) })
        // Column 0 is customer_id, the key; the others go in when not denied.
        let kept = allColumns.indices.filter { $0 != 0 && !decisions[$0].isDenied }
        let columns = kept.map { allColumns[$0] }
        let idDecision = decisions[0]
        let usable = segments.filter { $0.rule.fields.allSatisfy { index[$0].map { !decisions[$0].isDenied } ?? false } }
        let skipped = segments.filter { segment in !usable.contains { $0.name == segment.name } }.map(\.name)
        let rules = usable.map { $0.rule.bound(to: index, currentMonth: currentMonth) }

        let steps = kept.map { FieldTransformer.Step(decisions[$0], field: allColumns[$0]) }
        var number = 0, suppressed = 0, suppressedCells = 0
        var ids: [String] = [], subjects: [SubjectID] = []
        var sizes: [String: Int] = [:]
        let queue = try ProjectionFile.makeMemoryDatabase()
        // 16 KiB pages: a third fewer page splits and allocations than SQLite's 4 KiB for these
        // wide rows (measured: the file writes of a build 25 % faster).
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA page_size = 16384") }
        try queue.write { db in
            let columnSQL = kept.map { "\"\(allColumns[$0])\" \(ProjectionBuilder.sqlType(of: allColumns[$0], decision: decisions[$0]))" }
                .joined(separator: ", ")
            try db.execute(sql: """
                CREATE TABLE single_view (customer_id TEXT PRIMARY KEY NOT NULL\(columns.isEmpty ? "" : ", " + columnSQL)) WITHOUT ROWID;
                CREATE TABLE segments (name TEXT PRIMARY KEY NOT NULL, description TEXT NOT NULL, rule TEXT NOT NULL);
                CREATE TABLE segment_members (segment TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (segment, customer_id)) WITHOUT ROWID;
                CREATE TABLE projection_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE columns (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, unit TEXT, transform TEXT NOT NULL,
                    meaning TEXT NOT NULL);
                """)
            for (offset, column) in ([0] + kept).enumerated() {
                let name = allColumns[column], described = SingleViewColumn.named(name)
                let meaning = described?.meaning ?? (name.hasPrefix("consent_")
                    ? "1 when the person's consent to \(name.dropFirst("consent_".count)) is in force at the build, else 0" : name)
                try db.execute(sql: "INSERT INTO columns VALUES (?, ?, ?, ?, ?)", arguments: [
                    name, offset == 0 ? "TEXT" : ProjectionBuilder.sqlType(of: name, decision: decisions[column]),
                    described?.unit?.rawValue, decisions[column].transform.rawValue, meaning])
            }
            let insert = try db.makeStatement(sql: "INSERT INTO single_view VALUES (?\(String(repeating: ", ?", count: columns.count)))")
            let member = try db.makeStatement(sql: ProjectionBuilder.memberInsertSQL(rows: 1))
            let members64 = try db.makeStatement(sql: ProjectionBuilder.memberInsertSQL(rows: ProjectionBuilder.membersPerInsert))
            // Each person's customer_id in this file first, then the rows in customer_id order, and
            // the members segment by segment after them: both keys then grow at their end instead of
            // at random places (analysts' ids are tokens), which halves the cost of the inserts.
            let idStep = FieldTransformer.Step(idDecision, field: "customer_id")
            var positions: [Int] = []
            for position in people.indices where including(people[position].key) {
                ids.append(idDecision.isDenied ? "row-\(ids.count + 1)" : try transformer.apply(idStep, to: .text(customerKeys[position])).description)
                positions.append(position)
            }
            let order = idDecision.isDenied ? Array(ids.indices) : ProjectionBuilder.byteOrder(of: ids)
            var members = [[String]](repeating: [], count: usable.count)
            // Times and amounts the policy coarsens (week, day, round N) could still link this file to
            // another purpose's row by row: in files analysts and marketers read, they are worked out
            // first, and a row whose combination of them is shared by fewer people than the minimum
            // group size loses them (local suppression, `suppressRareCombinations`).
            let linkage = ProjectionBuilder.groupsProtected(for: role) ? kept.indices.filter { offset in
                decisions[kept[offset]].transform == .generalise && decisions[kept[offset]].rule?.generalise?.isLinkageGeneralisation == true
            } : []
            var linkageValues = [[Cell]](repeating: [], count: ids.count)
            if !linkage.isEmpty {
                for entry in ids.indices {
                    try rows.withRow(positions[entry]) { row in
                        linkageValues[entry] = try linkage.map { try transformer.apply(steps[$0], to: row[kept[$0]]) }
                    }
                }
                suppressed = ProjectionBuilder.suppressRareCombinations(&linkageValues, rules: linkage.map { decisions[kept[$0]].rule!.generalise! },
                                                           minimum: policy.minimumGroupSize)
            }
            let linkageSlot = Dictionary(uniqueKeysWithValues: linkage.enumerated().map { ($1, $0) })
            let handle = insert.sqliteStatement
            for entry in order {
                let id = ids[entry]
                try rows.withRow(positions[entry]) { row in
                    ProjectionBuilder.bind(.text(id), at: 1, of: handle)
                    for (offset, column) in kept.enumerated() {
                        // Kept values are bound where they lie; the others transformed first.
                        if case .keep = steps[offset] {
                            ProjectionBuilder.bind(row[column], at: Int32(offset + 2), of: handle)
                        } else if let slot = linkageSlot[offset] {
                            ProjectionBuilder.bind(linkageValues[entry][slot], at: Int32(offset + 2), of: handle)
                        } else {
                            ProjectionBuilder.bind(try transformer.apply(steps[offset], to: row[column]), at: Int32(offset + 2), of: handle)
                        }
                    }
                    try ProjectionBuilder.step(handle, "writing a projection")
                    for (index, rule) in rules.enumerated() where rule.matches(row) { members[index].append(id) }
                }
            }
            number = ids.count
            subjects = positions.map { people[$0].key }
            if ActivationSubjects.held(by: role, purpose: purpose.name, policy: policy) {
                try ActivationSubjects.write(ids: ids, subjects: subjects, into: db)
            }
            let patterns = patternCache.tables(for: PatternTables.People(all: people, positions: self.patterns ? positions : []))
            try patterns.write(affinity: recommends ? analysis.affinity : nil, into: db)
            suppressedCells = patterns.suppressed
            for (segment, ids) in zip(usable, members).sorted(by: { $0.0.name.utf8.lexicographicallyPrecedes($1.0.name.utf8) }) {
                // A group smaller than the policy's minimum is not listed in a file an analyst or
                // marketer reads: its members (and so its size) would single people out.
                if ProjectionBuilder.groupsProtected(for: role), ids.count < policy.minimumGroupSize { continue }
                try ProjectionBuilder.insert(ids, of: segment.name, batch: members64, single: member)
                sizes[segment.name] = ids.count
            }
            try SegmentHistory.write(history, sizes: sizes, builtAt: now, into: db)
            for segment in usable {
                try db.execute(sql: "INSERT INTO segments VALUES (?, ?, ?)", arguments: [segment.name, segment.description, segment.text])
            }
            var info: [String: String] = [
                "purpose": purpose.name, "role": role.rawValue, "built_at": Timestamp.format(now), "last_seq": String(lastSeq),
                "policy_sha256": policy.sha256, "lawful_basis": purpose.lawfulBasis.rawValue,
                "minimum_group_size": String(policy.minimumGroupSize), "linkage_suppressed_cells": String(suppressed),
                "small_cells_suppressed": String(suppressedCells), "analysis_buyers": String(analysis.buyers),
            ]
            if let fit = analysis.purchases {
                let model = fit.model
                info["bgnbd"] = "r=\(model.r) alpha=\(model.alpha) a=\(model.a) b=\(model.b) ll=\(fit.logLikelihood) unit=day"
                    + (fit.atBound ? " at_bound" : "")
            }
            if let fit = analysis.spend {
                info["gamma_gamma"] = "p=\(fit.model.p) q=\(fit.model.q) gamma=\(fit.model.gamma) ll=\(fit.logLikelihood)"
                    + (fit.atBound ? " at_bound" : "")
            }
            for (key, value) in info { try db.execute(sql: "INSERT INTO projection_info VALUES (?, ?)", arguments: [key, value]) }
        }
        let url = ProjectionFile.url(layout, purpose: purpose.name, role: role)
        // The map first: after a kill between the two, the old file is read with the new map, and a row
        // the map has no subject for makes `publish` ask for a build (never the other way round).
        try SubjectMap.write(ids: ids, subjects: subjects, besides: url, key: subjectMapKey, vaultID: vaultID,
                             purpose: purpose.name, role: role)
        let bytes = try ProjectionFile.write(queue, to: url, key: fileKey, vaultID: vaultID, purpose: purpose.name, role: role)
        return ProjectionSummary(purpose: purpose.name, role: role, subjects: number, withoutConsent: people.count - number,
                                 columns: ["customer_id"] + columns, segments: usable.map(\.name), skippedSegments: skipped, bytes: bytes,
                                 segmentSizes: sizes)
    }
}
