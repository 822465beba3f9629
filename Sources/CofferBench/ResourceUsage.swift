import Foundation

/// Memory figures of this process, read from `/proc/self/status` (Linux).
package enum ResourceUsage {
    /// Current resident set size in bytes (VmRSS), or 0 where unavailable.
    package static func residentBytes() -> UInt64 { statusField("VmRSS:") }

    /// Peak resident set size of the process so far in bytes (VmHWM).
    package static func peakResidentBytes() -> UInt64 { statusField("VmHWM:") }

    /// Resets the peak (VmHWM) to the current RSS, so a phase can be measured on its own
    /// (writes "5" to /proc/self/clear_refs). Returns false where unsupported.
    @discardableResult
    package static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func statusField(_ name: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return (digits.flatMap { UInt64($0) } ?? 0) * 1024
        }
        return 0
    }

    /// CPU time (user + system) this process has used so far, in seconds: with
    /// wall time, it tells whether a phase waited or used every core.
    package static func cpuSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The process's allocator: "jemalloc" when it is linked in (the `coffer` binary), with ", freed pages kept"
    /// when its decay is off (`Allocator.keepFreedPages`), else "glibc malloc".
    package static var allocator: String {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl") else { return "glibc malloc" }
        typealias Mallctl = @convention(c) (UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?,
                                            UnsafeMutableRawPointer?, Int) -> Int32
        var decay = 0, size = MemoryLayout<Int>.size
        let read = withUnsafeMutablePointer(to: &decay) { unsafeBitCast(symbol, to: Mallctl.self)("arenas.dirty_decay_ms", $0, &size, nil, 0) }
        return read == 0 && decay == -1 ? "jemalloc, freed pages kept" : "jemalloc"
        #else
        return "system malloc"
        #endif
    }

    /// Bytes as MiB with one decimal.
    package static func mebibytes(_ bytes: UInt64) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }
}

/// A monotonic stopwatch.
package struct Stopwatch {
    private let start = DispatchTime.now().uptimeNanoseconds

    package init() {}

    /// Seconds since the stopwatch was made.
    package var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
