import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from. Never a command-line argument: those are
/// visible to every user of the machine in the process list.
enum PassphraseSource {
    /// Reads the passphrase from, in order: `file` (first line), the
    /// `COFFER_PASSPHRASE` environment variable, or an interactive prompt on the
    /// terminal (echo off). With `confirm`, the prompt asks twice.
    ///
    /// - Throws: `PassphraseError` when none is available or they differ.
    /// - Parameter variable: the environment variable to read (`COFFER_NEW_PASSPHRASE` for a new actor's).
    static func read(file: String?, prompt: String, confirm: Bool = false, variable: String = "COFFER_PASSPHRASE",
                            environment: [String: String] = CommandContext.current.environment) throws -> SecureBytes {
        if let file {
            guard var data = FileManager.default.contents(atPath: file) else {
                throw PassphraseError.unreadableFile(file)
            }
            defer { data.resetBytes(in: 0..<data.count) }
            var bytes = Array(data.prefix { $0 != 0x0a && $0 != 0x0d })
            defer { bytes.wipe() }
            guard !bytes.isEmpty else { throw PassphraseError.emptyFile(file) }
            return SecureBytes(bytes)
        }
        if let value = environment[variable], !value.isEmpty {
            return SecureBytes(Array(value.utf8))
        }
        guard CommandContext.current.capture == nil, isatty(STDIN_FILENO) == 1 else { throw PassphraseError.noSource(variable: variable) }
        let first = try promptHidden(prompt)
        if confirm {
            let second = try promptHidden("Repeat to confirm: ")
            guard first.constantTimeEquals(second) else { throw PassphraseError.mismatch }
        }
        return first
    }

    /// Prints `prompt` on stderr and reads a line from the terminal with echo off.
    private static func promptHidden(_ prompt: String) throws -> SecureBytes {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        let haveTerminal = tcgetattr(STDIN_FILENO, &original) == 0
        if haveTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if haveTerminal { tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        var bytes: [UInt8] = []
        defer { bytes.wipe() }
        var byte: UInt8 = 0
        while Glibc.read(STDIN_FILENO, &byte, 1) == 1, byte != 0x0a, byte != 0x0d {
            bytes.append(byte)
        }
        guard !bytes.isEmpty else { throw PassphraseError.empty }
        return SecureBytes(bytes)
    }
}

/// Why no passphrase could be read.
enum PassphraseError: CofferError, Equatable {
    case noSource(variable: String)
    case empty
    case unreadableFile(String)
    case emptyFile(String)
    case mismatch

    var description: String { Self.line(parts.problem, remedy: parts.remedy) }

    var remedy: String? { parts.remedy }

    /// What went wrong, and what to do about it.
    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .noSource(variable):
            let flag = variable == "COFFER_PASSPHRASE" ? "--passphrase-file" : "--new-passphrase-file"
            return ("no passphrase given", "set \(variable), pass \(flag) FILE, or run in a terminal to be asked")
        case .empty: return ("the passphrase is empty", nil)
        case let .unreadableFile(path): return ("cannot read the passphrase file \(path)", nil)
        case let .emptyFile(path): return ("the passphrase file \(path) is empty", nil)
        case .mismatch: return ("the two passphrases differ; nothing was created", nil)
        }
    }
}
