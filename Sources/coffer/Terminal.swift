import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: results on stdout, diagnostics on stderr.
enum Terminal {
    /// `true` when stderr is a terminal (progress bars go there); never while output is captured.
    static var isInteractive: Bool { CommandContext.current.capture == nil && isatty(STDERR_FILENO) == 1 }

    static func error(_ message: String) {
        standardError("coffer: error: \(message)\n")
    }

    static func warning(_ message: String) {
        standardError("coffer: warning: \(message)\n")
    }

    static func note(_ message: String) {
        standardError("\(message)\n")
    }

    /// Prints a line on stdout and flushes it at once (scripts and tests read it live).
    static func line(_ text: String) {
        if let capture = CommandContext.current.capture { return capture.write(text + "\n", error: false) }
        print(text)
        fflush(nil)
    }

    /// Rewrites the current stderr line (progress), only on a terminal.
    static func progress(_ text: String) {
        guard isInteractive else { return }
        standardError("\r\u{1B}[K\(text)")
    }

    static func endProgress() {
        guard isInteractive else { return }
        standardError("\r\u{1B}[K")
    }

    /// Writes `text` on stderr, or to the command's capture.
    static func standardError(_ text: String) {
        if let capture = CommandContext.current.capture { return capture.write(text, error: true) }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
