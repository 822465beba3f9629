import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `coffer` binary, as a user or script would.
struct CofferProcess {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `coffer` executable next to the test bundle (`swift test` builds it).
    static let binary: URL = {
        let fm = FileManager.default
        var candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        // Fallback: the package's .build/debug from this file's location.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug"))
        for directory in candidates {
            let url = directory.appendingPathComponent("coffer")
            if fm.isExecutableFile(atPath: url.path) { return url }
        }
        fatalError("coffer binary not found near \(candidates.map(\.path)); run `swift build` first")
    }()

    /// A temporary working directory, removed by `cleanup()`.
    let directory: URL = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-e2e-\(UUID().uuidString)")
    var environment: [String: String] = ["COFFER_PASSPHRASE": "e2e passphrase 1234", "COFFER_POLICY": Self.defaultPolicy]

    /// The repository's shipped policy (commands run in a scratch directory).
    static let defaultPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies/default.yaml").path

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: directory) }

    var vault: String { directory.appendingPathComponent("vault").path }

    /// Runs `coffer args…` to completion with stdin closed; with a `launcher`, runs `launcher… coffer args…`.
    func run(_ args: [String], environment extra: [String: String] = [:], launcher: [String] = []) throws -> Output {
        let process = makeProcess(args, extra)
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = launcher.dropFirst() + [Self.binary.path] + args
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    func makeProcess(_ args: [String], _ extra: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "COFFER_VAULT")
        env.removeValue(forKey: "COFFER_PASSPHRASE")
        env.removeValue(forKey: "COFFER_NEW_PASSPHRASE")
        env.removeValue(forKey: "COFFER_POLICY")
        for (key, value) in environment { env[key] = value }
        for (key, value) in extra { env[key] = value }
        process.environment = env
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        return process
    }
}
