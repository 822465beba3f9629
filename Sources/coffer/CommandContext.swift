import CofferCrypto
import Foundation
import Synchronization

/// What a command reads and writes besides its arguments: the environment,
/// stdout and stderr, and the scrypt cost of the passphrase keys it creates.
/// A `coffer` process uses its own; tests run commands in-process with theirs
/// (`Coffer.run(_:context:)`), several at once, as the context is task-local.
struct CommandContext: Sendable {
    /// `COFFER_VAULT`, `COFFER_PASSPHRASE`, `COFFER_POLICY`, … are read from here.
    var environment: [String: String]
    /// Receives what the command writes instead of the process's stdout and stderr.
    var capture: OutputCapture?
    /// The scrypt cost of keyslots that `init`, `actor add` and `actor passwd` write.
    var kdf: Scrypt.Parameters = .passphraseDefault

    /// The context of the command running on this task.
    @TaskLocal static var current = CommandContext(environment: ProcessInfo.processInfo.environment)
}

/// Collects a command's stdout and stderr as text.
final class OutputCapture: Sendable {
    private let text = Mutex((out: "", err: ""))

    init() {}

    func write(_ line: String, error: Bool) {
        text.withLock { if error { $0.err += line } else { $0.out += line } }
    }

    var stdout: String { text.withLock { $0.out } }
    var stderr: String { text.withLock { $0.err } }
}
