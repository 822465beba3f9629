import CofferBench
import CofferIngest
import Foundation

/// Shows import progress: a bar with rate and ETA on a terminal; one plain
/// line every few seconds otherwise (logs and CI stay readable).
final class ProgressReporter {
    private let label: String
    private let clock = Stopwatch()
    private var lastLine = 0.0

    init(label: String) {
        self.label = label
    }

    func update(_ progress: IngestProgress) {
        let elapsed = max(clock.elapsed, 0.001)
        let records = progress.report.records
        let rate = Double(records) / elapsed
        let fraction = progress.totalBytes > 0 ? min(1, Double(progress.bytesRead) / Double(progress.totalBytes)) : 0
        if Terminal.isInteractive {
            let width = 28
            let filled = Int(fraction * Double(width))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            Terminal.progress("\(label) [\(String(repeating: "█", count: filled))\(String(repeating: "·", count: width - filled))] "
                + String(format: "%3.0f%%  %d records  %.0f/s  ETA %@", fraction * 100, records, rate, Self.duration(eta)))
        } else if elapsed - lastLine >= 5 {
            lastLine = elapsed
            Terminal.note(String(format: "%@: %.0f%% %d records (%.0f/s)", label, fraction * 100, records, rate))
        }
    }

    func finish() { Terminal.endProgress() }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

extension IngestReport {
    /// `accepted 120, duplicate 3, quarantined 2` and the reasons, one per line.
    var summaryLines: [String] {
        var lines = ["accepted \(accepted), duplicate \(duplicates), quarantined \(quarantined)"
            + (suppressed > 0 ? ", suppressed \(suppressed) (erased identifiers)" : "")
            + (expired > 0 ? ", past retention \(expired) (not stored)" : "")
            + " (new subjects \(subjectsCreated), merges \(merges)\(consents > 0 ? ", consent decisions \(consents)" : "")"
            + "\(optOuts > 0 ? ", channel opt-outs \(optOuts)" : ""))"]
        for (reason, count) in reasons.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            lines.append("  quarantined \(count)× \(reason)")
        }
        if !unclassifiedFields.isEmpty {
            let top = unclassifiedFields.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            lines.append("  \(unclassifiedFields.count) field(s) in no policy field class, denied to every role until classified: "
                + top.prefix(8).map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + (top.count > 8 ? ", …" : ""))
        }
        return lines
    }
}
