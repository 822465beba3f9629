import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: results on stdout, diagnostics on stderr.
enum Terminal {
    /// `true` when stderr is a terminal (progress bars go there).
    static var isInteractive: Bool { isatty(STDERR_FILENO) == 1 }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("coffer: error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("coffer: warning: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Prints a line on stdout and flushes it at once (scripts and tests read it live).
    static func line(_ text: String) {
        print(text)
        fflush(nil)
    }

    /// Rewrites the current stderr line (progress), only on a terminal.
    static func progress(_ text: String) {
        guard isInteractive else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    static func endProgress() {
        guard isInteractive else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
