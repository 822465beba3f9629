@testable import coffer
import CofferTestSupport
import Foundation

/// Runs `coffer` commands in this process, as `CofferProcess` runs the binary:
/// the same arguments, environment and output, without a process start and
/// with cheap scrypt keys for the vaults it creates. Commands run with their
/// own context, so tests run side by side. Crash and exit-status tests spawn
/// the binary instead (`CofferProcess`).
struct CofferCommand {
    /// A temporary working directory, removed by `cleanup()`.
    let directory: URL = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-cli-\(UUID().uuidString)")
    var environment: [String: String] = ["COFFER_PASSPHRASE": "e2e passphrase 1234", "COFFER_POLICY": CofferProcess.defaultPolicy]

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: directory) }

    var vault: String { directory.appendingPathComponent("vault").path }

    /// Runs `coffer args…` to completion, with no terminal (no passphrase prompt).
    func run(_ args: [String], environment extra: [String: String] = [:]) throws -> CofferProcess.Output {
        Self.run(args, environment: environment.merging(extra) { $1 })
    }

    /// Runs `coffer args…` in this process with `environment` and nothing else of the process's own.
    static func run(_ args: [String], environment: [String: String]) -> CofferProcess.Output {
        let capture = OutputCapture()
        let status = Coffer.run(args, context: CommandContext(environment: environment, capture: capture, kdf: ScratchVault.kdf))
        return CofferProcess.Output(status: status, stdout: capture.stdout, stderr: capture.stderr)
    }
}

extension CofferProcess {
    /// Runs `coffer args…` in this process (as `CofferCommand` does), for the
    /// set-up of a test that spawns the binary: a vault `init` makes here has
    /// cheap keys, so every process the test starts unlocks it at once.
    func runInProcess(_ args: [String], environment extra: [String: String] = [:]) -> Output {
        CofferCommand.run(args, environment: environment.merging(extra) { $1 })
    }
}
