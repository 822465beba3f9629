import ArgumentParser
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
                      ConsentCommand.self, PolicyCommand.self, ProjectCommand.self, ViewCommand.self, QueryCommand.self, SegmentCommand.self, ActorCommand.self, RequestCommand.self, AuditCommand.self, ReportCommand.self, VerifyCommand.self, BackupCommand.self, RetentionCommand.self, BenchCommand.self]
    )

    /// Runs the command; every error becomes one line on stderr and a non-zero exit, never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(dueTo: error)
        }
    }

    /// The one place an error leaves the program: Coffer's errors as their message and exit
    /// status; usage errors as ArgumentParser words them, with status 1 (not 64), as the help promises.
    static func exit(dueTo error: any Error) -> Never {
        switch error {
        case let error as any CofferError:
            fail(error.message, code: error.exitStatus)
        case is ExitCode, is CleanExit:
            exit(withError: error)
        case _ where exitCode(for: error) == .validationFailure:
            Terminal.note(fullMessage(for: error))
            Foundation.exit(1)
        case _ where String(reflecting: type(of: error)).hasPrefix("ArgumentParser."):
            // Help requests and usage errors raised while running (e.g. a command group run bare).
            exit(withError: error)
        default:
            // Anything else still reaches the user as one line, never a dump or a trace.
            let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            fail("unexpected failure (\(type(of: error))): \(text.prefix(300))")
        }
    }

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        Terminal.error(message)
        Foundation.exit(code)
    }
}

/// A command that found something wrong, in words for the user.
struct CommandFailure: CofferError {
    var description: String
    init(message: String) { description = message }
}
