import ArgumentParser
import CofferBench
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation

/// The `coffer` command: a thin shell over the Coffer libraries.
@main
struct Coffer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coffer",
        abstract: "A privacy-first customer data platform in local files.",
        discussion: """
            Every vault command takes --vault DIR (default: $COFFER_VAULT, else ./vault).
            Every vault command takes --actor NAME (default: owner); the actor's role decides
            what it may do and which keys its keyslot holds.
            Passphrases come from --passphrase-file FILE, $COFFER_PASSPHRASE, or a prompt;
            never from a command-line argument.
            Commands that work under a policy take --policy FILE (default: $COFFER_POLICY,
            else policies/default.yaml).

            Exit status: 0 success; 1 error (message on stderr); 2 verification found damage.
            """,
        subcommands: [InitCommand.self, DemoCommand.self, IngestCommand.self, SubjectCommand.self, QuarantineCommand.self,
                      ConsentCommand.self, PolicyCommand.self, ProjectCommand.self, ViewCommand.self, QueryCommand.self, SegmentCommand.self, AnalyzeCommand.self, AudienceCommand.self, CampaignCommand.self, ActorCommand.self, RequestCommand.self, AuditCommand.self, ReportCommand.self, VerifyCommand.self, BackupCommand.self, RetentionCommand.self, SourceCommand.self, PublishCommand.self, ServeCommand.self, DashboardCommand.self, BenchCommand.self]
    )

    /// Runs the command; every error becomes one line on stderr and a non-zero exit, never a stack trace.
    static func main() {
        Jemalloc.keepFreedPages()
        do {
            var command = try parseAsRoot()
            if command is any StreamingCommand { Jemalloc.returnFreedPages(afterMilliseconds: 1_000) }
            if command is any ProjectionWritingCommand { SQLiteProcess.turnOffMemoryStatistics() }
            try command.run()
        } catch {
            let status = report(error)
            Foundation.exit(status)
        }
    }

    /// Runs `arguments` as the `coffer` process would, in this process and under
    /// `context` (its environment, output and key cost), and returns the exit status.
    static func run(_ arguments: [String], context: CommandContext) -> Int32 {
        CommandContext.$current.withValue(context) {
            do {
                var command = try parseAsRoot(arguments)
                try command.run()
                return 0
            } catch {
                return report(error)
            }
        }
    }

    /// The one place an error is turned into output: Coffer's errors as their message and
    /// exit status; usage errors as ArgumentParser words them, with status 1 (not 64), as
    /// the help promises; help requests on stdout with status 0. Returns the exit status.
    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as any CofferError:
            Terminal.error(error.message)
            return error.exitStatus
        case _ where String(reflecting: type(of: error)).hasPrefix("ArgumentParser."):
            // Help requests, exit codes, and usage errors (also those raised while running, e.g. a command group run bare).
            let message = fullMessage(for: error)
            let code = exitCode(for: error)
            if code == .success {
                if !message.isEmpty { Terminal.line(message) }
                return 0
            }
            if !message.isEmpty { Terminal.note(message) }
            return code == .validationFailure ? 1 : code.rawValue
        default:
            // Anything else still reaches the user as one line, never a dump or a trace.
            let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            Terminal.error("unexpected failure (\(type(of: error))): \(text.prefix(300))")
            return 1
        }
    }
}

/// A command that found something wrong, in words for the user.
struct CommandFailure: CofferError {
    var description: String
    init(message: String) { description = message }
}

/// A command that streams input for long (an ingest, the collector) or builds from the whole log:
/// the pages it frees go back to the system after a second instead of being kept for reuse, which
/// over millions of events let an ingest's resident size grow far past the memory it holds
/// (`Jemalloc.returnFreedPages`). A build frees its reading threads' partial aggregates before it
/// writes the files: with them kept, the seed's table-1 build (2M carts, `coffer project build
/// --full`, alternating in one run) peaked at 672–689 MiB, with them returned at 503 MiB, in the
/// same time (14.04–14.38 s against 13.38–14.71 s).
protocol StreamingCommand {}

extension IngestCommand: StreamingCommand {}
extension ServeCommand: StreamingCommand {}
extension BenchIngestCommand: StreamingCommand {}
extension BenchAppendCommand: StreamingCommand {}
extension BenchServeCommand: StreamingCommand {}
extension ProjectCommand.Build: StreamingCommand {}
extension BenchProjectCommand: StreamingCommand {}

/// A command that writes projection databases on several threads and runs no analysts' SQL (whose
/// heap limit needs SQLite's memory statistics): they are turned off for it, so that its writers do
/// not wait on the one mutex every SQLite allocation takes with them on. Measured on the seed's
/// table 1 (100,000 people, incremental builds of an unchanged log, alternating in one run): files
/// written in 2.90–3.27 s against 3.78–4.55 s.
protocol ProjectionWritingCommand {}

extension ProjectCommand.Build: ProjectionWritingCommand {}
extension BenchProjectCommand: ProjectionWritingCommand {}
