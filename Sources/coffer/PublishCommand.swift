import ArgumentParser
import CofferFormats
import CofferPolicy
import CofferPublish
import CofferStore
import Foundation

/// `coffer publish --to URL [--shard URL…] --purpose P`, `publish sync`, `publish status`.
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a purpose's projection to ClickHouse (owner), and send the deletes published copies are owed (owner or compliance).",
        discussion: """
            `coffer publish --to URL --purpose P` sends the projection of P exactly as the policy transforms it for \
            a role (default analyst), built by `coffer project build`: the single view and segment membership \
            (MergeTree ordered by customer_id, with a Distributed table keyed by cityHash64(customer_id) when \
            --shard adds shards), and the purpose's aggregate tables. After the first publish, only people whose \
            rows changed are sent again. Erasures, restrictions, withdrawals and objections queue deletes for every \
            copy holding the person; every publish, and `publish sync`, sends them to each shard and checks the \
            person is gone. Credentials: --credentials FILE (user: / password:) or COFFER_CLICKHOUSE_USER and \
            COFFER_CLICKHOUSE_PASSWORD, never on the command line.
            """,
        subcommands: [Push.self, Sync.self, Status.self, Retire.self],
        defaultSubcommand: Push.self
    )

    /// `--credentials FILE`, else the environment: who Coffer is on the servers.
    struct CredentialsOption: ParsableArguments {
        @Option(help: ArgumentHelp("A file with `user:` and `password:` lines.", valueName: "FILE")) var credentials: String?

        func load() throws -> ClickHouseCredentials {
            try ClickHouseCredentials.load(file: credentials, environment: CommandContext.current.environment)
        }
    }

    /// The copy a command names: where (shards, database), what (purpose, role), and as whom.
    struct CopyOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The first shard's ClickHouse HTTP address (it also holds the shared tables).", valueName: "URL"))
        var to: String
        @Option(name: .customLong("shard"), help: ArgumentHelp("A further shard, in the cluster's shard order (repeatable).", valueName: "URL"))
        var shards: [String] = []
        @Option(help: ArgumentHelp("The purpose whose projection is published.", valueName: "PURPOSE")) var purpose: String
        @Option(help: "The role whose file is published: what that role may see is what leaves.") var role: Role = .analyst
        @Option(help: "The ClickHouse database.") var database = PublishTarget.defaultDatabase
        @OptionGroup var credentials: CredentialsOption

        /// The target, with `cluster` (default `coffer` with several shards).
        func target(cluster: String? = nil, partsLifetime: Int = PublishTarget.defaultPartsLifetime) throws -> PublishTarget {
            try PublishTarget(to: to, shards: shards, database: database, cluster: cluster ?? (shards.isEmpty ? nil : "coffer"),
                              credentials: try credentials.load(), partsLifetime: partsLifetime)
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push", abstract: "Publish a purpose's projection (the default: `coffer publish --to URL --purpose P`).")
        @OptionGroup var options: VaultOptions
        @OptionGroup var copy: CopyOptions
        @Option(help: ArgumentHelp("The cluster (remote_servers) of the Distributed tables, with --shard.", valueName: "NAME"))
        var cluster: String?
        @Option(help: ArgumentHelp("Seconds ClickHouse keeps replaced parts on disk (old_parts_lifetime).", valueName: "SECONDS"))
        var partsLifetime = PublishTarget.defaultPartsLifetime
        @Option(help: ArgumentHelp("Rows sent per INSERT: memory stays bounded by one chunk.", valueName: "N"))
        var chunkRows = 25_000

        func run() throws {
            let policy = try options.policy()
            let target = try copy.target(cluster: cluster, partsLifetime: partsLifetime)
            let (purpose, role) = (copy.purpose, copy.role)
            let vault = try options.unlock()
            var publisher = Publisher(vault: vault, policy: policy)
            publisher.chunkRows = max(chunkRows, 1)
            publisher.progress = { Terminal.progress("publishing \(purpose): \($0)…") }
            let report = try publisher.publish(purpose: purpose, role: role, to: target)
            Terminal.endProgress()
            let manifest = report.manifest
            Terminal.line(String(format: "Published %@ (role %@) to %d shard%@ in %.2f s: %d people (%@).", purpose, role.rawValue,
                                 target.shards.count, target.shards.count == 1 ? "" : "s", report.seconds, manifest.people,
                                 manifest.full ? "tables created, every row sent"
                                    : "\(manifest.added) added, \(manifest.replaced) replaced, \(manifest.removed) removed"))
            for (table, rows) in manifest.tables.sorted(by: { $0.key < $1.key }) {
                Terminal.line("  \(target.database).\(table): \(rows) rows")
            }
            if report.leftOutNow > 0 {
                Terminal.line("  \(report.leftOutNow) people in the file were left out: the purpose may no longer hold them "
                    + "(consent lapsed or withdrawn, restricted or erased since the build)")
            }
            PublishCommand.print(report.sync)
            Terminal.line("The signed manifest is in the audit trail (`coffer audit log --action publish`).")
        }
    }

    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send every queued remote delete to each shard, wait for it, and verify the person is gone.")
        @OptionGroup var options: VaultOptions
        @OptionGroup var credentials: CredentialsOption

        func run() throws {
            let credentials = try credentials.load()
            let vault = try options.unlock()
            let report = try DeleteSync(vault: vault, credentials: credentials).run()
            if report.copies == 0 && report.pending == 0 { return Terminal.line("No remote deletes are owed.") }
            PublishCommand.print(report)
            if !report.failures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the published copies and every delete they are still owed, with its age.")
        @OptionGroup var options: VaultOptions

        func run() throws {
            let policy = try options.policy()
            let vault = try options.unlock()
            let status = try PublishStatus.load(vault: vault, deadline: policy.remoteDeleteDeadline.milliseconds, now: EventLog.now())
            guard !status.copies.isEmpty || !status.pending.isEmpty else { return Terminal.line("Nothing is published.") }
            for copy in status.copies {
                Terminal.line("\(copy.copy.purpose) (role \(copy.copy.role)) → \(copy.copy.database) on \(copy.copy.shards.joined(separator: ", "))")
                Terminal.line("  \(copy.people) people, last published \(Timestamp.format(copy.copy.publishedAt)) "
                    + "(built through seq \(copy.copy.lastSeq)); old parts kept \(copy.copy.partsLifetime) s")
                if let since = copy.copy.publishingSince {
                    Terminal.line(status.publishRunning ? "  a publish started \(Timestamp.format(since)) is under way"
                        : "  the publish started \(Timestamp.format(since)) did not finish: the next publish rewrites the copy")
                }
            }
            if status.pending.isEmpty {
                Terminal.line("No remote deletes are owed.")
            } else {
                Terminal.line("\(status.pending.count) remote delete\(status.pending.count == 1 ? "" : "s") owed:")
                for entry in status.pending {
                    let age = PublishStatus.age(entry.ageMillis)
                    Terminal.line("  #\(entry.delete.id) \(entry.delete.reason.rawValue)\(entry.delete.requestID.map { " (\($0))" } ?? "") "
                        + "for \(entry.purpose), queued \(age) ago, \(entry.delete.attempts) tr\(entry.delete.attempts == 1 ? "y" : "ies")"
                        + (entry.delete.lastError.map { "; last error: \($0)" } ?? "")
                        + (entry.delete.reason == .retention ? "; met by a publish from a build after the retention run" : "")
                        + (entry.overdue ? "  OVERDUE (past the policy's remote_delete_deadline of \(policy.remoteDeleteDeadline))" : ""))
                }
            }
            if status.overdue > 0 {
                Terminal.warning("\(status.overdue) remote delete\(status.overdue == 1 ? " is" : "s are") past the policy's deadline "
                    + "(\(policy.remoteDeleteDeadline)): run `coffer publish sync` once the shards are reachable")
                throw ExitCode(1)
            }
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop publishing a purpose to a cluster: drop its tables from every shard, check, and forget the copy.",
            discussion: """
                Names the copy as `publish` did (--to, --shard, --purpose, --role, --database). Every shard must \
                answer: the copy is forgotten (with whom it held and the deletes it was owed) only once no table \
                of it is left on any shard.
                """)
        @OptionGroup var options: VaultOptions
        @OptionGroup var copy: CopyOptions

        func run() throws {
            let policy = try options.policy()
            let target = try copy.target()
            let people = try Publisher(vault: try options.unlock(), policy: policy).retire(purpose: copy.purpose, role: copy.role, from: target)
            Terminal.line("Retired \(copy.purpose) (role \(copy.role.rawValue)) from \(target.shards.count) shard\(target.shards.count == 1 ? "" : "s"): "
                + "its tables dropped, and the copy of \(people) people forgotten.")
        }
    }

    static func print(_ sync: DeleteSync.Report) {
        if sync.verified > 0 {
            Terminal.line("  \(sync.verified) remote delete\(sync.verified == 1 ? "" : "s") sent and verified gone on every shard")
        }
        for failure in sync.failures {
            Terminal.warning("\(failure.shard): \(failure.error)")
        }
        if !sync.requestsCompleted.isEmpty {
            Terminal.line("  every remote copy verified gone for \(sync.requestsCompleted.joined(separator: ", ")) "
                + "(`coffer request receipt ID` issues the signed statement)")
        }
        if sync.waiting > 0 {
            Terminal.line("  \(sync.waiting) delete\(sync.waiting == 1 ? "" : "s") left to the publish under way, which sends them when "
                + "its rows are in (rows still on their way could otherwise land after a delete)")
        }
        if sync.pending > 0 { Terminal.line("  \(sync.pending) remote delete\(sync.pending == 1 ? "" : "s") still owed (`coffer publish status`)") }
    }
}
