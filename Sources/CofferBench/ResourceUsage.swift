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
    /// when its decay is off (`Jemalloc.keepFreedPages`), ", freed pages returned after N ms" when it is on
    /// (`Jemalloc.returnFreedPages`); else "glibc malloc".
    package static var allocator: String {
        guard let decay = Jemalloc.value("arenas.dirty_decay_ms") else { return "glibc malloc" }
        return decay == -1 ? "jemalloc, freed pages kept" : "jemalloc, freed pages returned after \(decay) ms"
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

    /// Bytes the program holds allocated now (jemalloc's `stats.allocated`, refreshed first), or nil
    /// off jemalloc: beside the RSS, it tells live memory from freed pages kept for reuse.
    package static func allocatedBytes() -> Int? {
        guard let mallctl else { return nil }
        var epoch: UInt64 = 1, size = MemoryLayout<UInt64>.size
        _ = withUnsafeMutablePointer(to: &epoch) { mallctl("epoch", $0, &size, $0, size) }
        return value("stats.allocated")
    }

    /// Keeps freed pages for reuse (decay times of -1), for the arenas there are and those to come.
    ///
    /// jemalloc returns freed pages to the system some seconds after they are freed; a
    /// build, an export or an erasure frees and reallocates the same memory all along,
    /// and paid for it in page faults: measured with `bench request` in one run, an
    /// export of 10,000 events took 0.76 s on jemalloc's defaults, 0.48 s with freed
    /// pages kept, 0.47 s on glibc's malloc. Kept pages are reused, but not always:
    /// commands that stream for long return them instead (`returnFreedPages`).
    package static func keepFreedPages() { setDecay(milliseconds: -1) }

    /// Gives freed pages back to the system `milliseconds` after they are freed: for the commands
    /// that stream for long (ingest, serve). With freed pages kept, an ingest's resident size grew with
    /// its input while the memory it held did not: measured over 3M events in one run, 631 MiB and
    /// rising with pages kept, 250 MiB flat with a 1 s decay, at the same rate (51.9k and 50.3–51.7k
    /// events/s), the live heap 200 MiB in both; over 10M with pages kept it reached 1.9 GiB.
    package static func returnFreedPages(afterMilliseconds milliseconds: Int) { setDecay(milliseconds: milliseconds) }

    /// Returns every freed page to the system now: a phase measured after another (a build after
    /// an ingest, in `bench project --csv`) then starts from the memory the process holds.
    package static func purge() {
        guard let mallctl else { return }
        _ = mallctl("arena.4096.purge", nil, nil, nil, 0)   // 4096: MALLCTL_ARENAS_ALL
    }

    private static func setDecay(milliseconds: Int) {
        guard let mallctl else { return }
        // 4096 is MALLCTL_ARENAS_ALL: every arena already made.
        for name in ["arenas.dirty_decay_ms", "arenas.muzzy_decay_ms", "arena.4096.dirty_decay_ms", "arena.4096.muzzy_decay_ms"] {
            var decay = milliseconds   // ssize_t
            _ = withUnsafeMutablePointer(to: &decay) { mallctl(name, nil, nil, $0, MemoryLayout<Int>.size) }
        }
    }
}
