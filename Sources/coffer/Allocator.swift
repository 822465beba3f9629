import Foundation

/// The settings of jemalloc, which the binary links (Package.swift), applied at start.
///
/// jemalloc returns freed pages to the system some seconds after they are freed; a
/// build, an export or an erasure frees and reallocates the same memory all along,
/// and paid for it in page faults: measured with `bench request` in one run, an
/// export of 10,000 events took 0.76 s on jemalloc's defaults, 0.48 s with freed
/// pages kept, 0.47 s on glibc's malloc. Kept pages are reused, so the resident
/// size still stays at the peak of live memory (an ingest's: 275 MiB after 10M
/// events), not grow with the input as it did on glibc.
enum Allocator {
    /// Keeps freed pages for reuse (decay times of -1), for the arenas there are and those to come.
    static func keepFreedPages() {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl") else { return }   // not on jemalloc
        typealias Mallctl = @convention(c) (UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?,
                                            UnsafeMutableRawPointer?, Int) -> Int32
        let mallctl = unsafeBitCast(symbol, to: Mallctl.self)
        // 4096 is MALLCTL_ARENAS_ALL: every arena already made.
        for name in ["arenas.dirty_decay_ms", "arenas.muzzy_decay_ms", "arena.4096.dirty_decay_ms", "arena.4096.muzzy_decay_ms"] {
            var never = -1   // ssize_t
            _ = withUnsafeMutablePointer(to: &never) { mallctl(name, nil, nil, $0, MemoryLayout<Int>.size) }
        }
    }
}
