import CofferCrypto
import CofferStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A writer killed with SIGKILL in the middle of a large append leaves a vault
/// that opens, verifies, and holds every event of every acknowledged batch.
struct CrashSafetyTests {
    /// Starts a large append and kills it after `acks` batches were acknowledged.
    /// - Returns: the last acknowledged seq.
    private func appendAndKill(_ coffer: CofferProcess, acks: Int, batch: Int) throws -> Int64 {
        let process = coffer.makeProcess(["bench", "append", "--vault", coffer.vault, "--events", "5000000",
                                          "--subjects", "50000", "--batch", "\(batch)", "--report-batches", "--no-verify"])
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var buffer = ""
        var acknowledged: [Int64] = []
        let deadline = Date().addingTimeInterval(300)
        while acknowledged.count < acks, Date() < deadline {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
            while let newline = buffer.firstIndex(of: "\n") {
                let line = buffer[..<newline]
                buffer = String(buffer[buffer.index(after: newline)...])
                if line.hasPrefix("committed "), let seq = Int64(line.dropFirst("committed ".count)) {
                    acknowledged.append(seq)
                }
            }
        }
        // Let the writer get into the middle of the next batch, then kill it without warning.
        usleep(150_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the writer finished before it could be killed")
        // Anything acknowledged between our last read and the kill counts too.
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        for line in (buffer + rest).split(separator: "\n") where line.hasPrefix("committed ") {
            if let seq = Int64(line.dropFirst("committed ".count)) { acknowledged.append(seq) }
        }
        try #require(acknowledged.count >= acks)
        return acknowledged.max()!
    }

    @Test("SIGKILL during large appends loses no acknowledged batch and leaves a verifiable vault")
    func killedWriter() throws {
        let coffer = try CofferProcess()
        defer { coffer.cleanup() }
        #expect(coffer.runInProcess(["init", "--vault", coffer.vault]).status == 0)
        let batch = 2000
        // The 8th append merges the level-0 runs of the subject index (`SubjectIndex`) in its transaction:
        // the kill lands in or near it.
        let firstAck = try appendAndKill(coffer, acks: SubjectIndex.fanIn - 1, batch: batch)
        // A second writer resumes on the crashed vault and is killed too.
        let secondAck = try appendAndKill(coffer, acks: 2, batch: batch)
        #expect(secondAck > firstAck)

        let layout = VaultLayout(directory: URL(fileURLWithPath: coffer.vault))
        let report = try LogVerifier.verify(layout: layout)
        #expect(report.isValid, "\(report.failure?.description ?? "")")
        #expect(report.headSeq >= secondAck)
        #expect(report.headSeq % Int64(batch) == 0, "a partial batch was committed")

        let vault = try Vault.unlock(layout: layout, passphrase: SecureBytes(Array(coffer.environment["COFFER_PASSPHRASE"]!.utf8)))
        #expect(try vault.eventLog().count() == Int(report.headSeq))
        // The subject index holds exactly the committed events: no run of a killed batch or merge.
        #expect(try vault.database.read { try SubjectIndex.mismatch(in: $0) } == nil)
        // The events decrypt: take the subject of the last event and read it back.
        let lastSubject = try vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT subject_id FROM events ORDER BY seq DESC LIMIT 1")!
        }
        let events = try vault.eventLog().events(of: SubjectID(bytes: Array(lastSubject)))
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0.payload.count > 300 })
    }
}

import GRDB
