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
    /// when its decay is off (`Jemalloc.keepFreedPages`), else "glibc malloc".
    package static var allocator: String {
        guard let decay = Jemalloc.value("arenas.dirty_decay_ms") else { return "glibc malloc" }
        return decay == -1 ? "jemalloc, freed pages kept" : "jemalloc"
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

/// jemalloc, which the `coffer` binary links (Package.swift), through its `mallctl`; nothing
/// when the process runs on another allocator.
package enum Jemalloc {
    private typealias Mallctl = @convention(c) (UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?,
                                                UnsafeMutableRawPointer?, Int) -> Int32

    /// `mallctl`, when jemalloc is the process's allocator.
    private static var mallctl: Mallctl? {
        #if canImport(Glibc)
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl").map { unsafeBitCast($0, to: Mallctl.self) }
        #else
        nil
        #endif
    }

    /// A setting of ssize_t type (nil: not on jemalloc, or no such setting).
    static func value(_ name: String) -> Int? {
        guard let mallctl else { return nil }
        var value = 0, size = MemoryLayout<Int>.size
        return withUnsafeMutablePointer(to: &value) { mallctl(name, $0, &size, nil, 0) } == 0 ? value : nil
    }

    /// Keeps freed pages for reuse (decay times of -1), for the arenas there are and those to come.
    ///
    /// jemalloc returns freed pages to the system some seconds after they are freed; a
    /// build, an export or an erasure frees and reallocates the same memory all along,
    /// and paid for it in page faults: measured with `bench request` in one run, an
    /// export of 10,000 events took 0.76 s on jemalloc's defaults, 0.48 s with freed
    /// pages kept, 0.47 s on glibc's malloc. Kept pages are reused, so the resident
    /// size still stays at the peak of live memory (an ingest's: about 590 MiB over
    /// 10M events), not grow with the input as it did on glibc.
    package static func keepFreedPages() {
        guard let mallctl else { return }
        // 4096 is MALLCTL_ARENAS_ALL: every arena already made.
        for name in ["arenas.dirty_decay_ms", "arenas.muzzy_decay_ms", "arena.4096.dirty_decay_ms", "arena.4096.muzzy_decay_ms"] {
            var never = -1   // ssize_t
            _ = withUnsafeMutablePointer(to: &never) { mallctl(name, nil, nil, $0, MemoryLayout<Int>.size) }
        }
    }
}
