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

    /// Runs the command; domain errors become one line on stderr and a non-zero exit, never a stack trace.
    static func main() {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as VaultError {
            fail(error.description)
        } catch let error as PassphraseError {
            fail(error.description)
        } catch let error as IngestError {
            fail(error.description)
        } catch let error as CryptoError {
            fail(error.description)
        } catch let error as PolicyError {
            fail("policy error: \(error.description)")
        } catch let error as ConsentError {
            fail(error.description)
        } catch let error as ProjectionError {
            fail(error.description)
        } catch let error as QueryError {
            fail(error.description)
        } catch let error as RequestError {
            fail(error.description)
        } catch let error as UserFacingError {
            fail(error.message)
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // Help requests and usage errors raised while running (e.g. a command group run bare).
            exit(withError: error)
        } catch {
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

/// Errors (from commands and CofferBench) whose message is meant for the user as it is.
protocol UserFacingError: Error { var message: String { get } }

/// A command that found something wrong and has already said so.
struct CommandFailure: Error, UserFacingError {
    var message: String
}
