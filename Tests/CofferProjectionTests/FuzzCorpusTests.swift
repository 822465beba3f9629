import CofferFuzzTargets
import Foundation
import Testing

/// Replays the checked-in fuzz seed corpus (and any finding added to it)
/// through the same targets `scripts/fuzz` runs under libFuzzer, so a
/// regression on a known input is caught by the ordinary test suite.
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test("every fuzz target runs its seed corpus without a crash or a broken property", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let folder = Self.corpus.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        #expect(files.count >= 3, "seeds for \(target.rawValue)")
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            target.run(bytes)
            // Every prefix too: truncated input is the commonest broken input.
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) {
                target.run(Array(bytes[..<cut]))
            }
        }
    }
}
