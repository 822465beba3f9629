import CofferCrypto
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import Testing
import CofferPolicy

/// Issue 15, class 9: what a killed build leaves behind does not outlive the next open, nor an erasure.
struct LeftoverFileTests {
    @Test("a temporary projection file of a killed writer is removed at the next unlock and before an erasure's check")
    func leftoversRemoved() throws {
        let fixture = try RequestFixture()
        let projection = ProjectionFile.url(fixture.layout, purpose: "support", role: .owner)
        func plant() throws -> URL {
            // As AtomicFile names it, from a process that no longer runs: a whole sealed copy with Bo in it.
            let leftover = fixture.layout.projections.appendingPathComponent(".\(projection.lastPathComponent).tmp-999999999")
            try FileManager.default.copyItem(at: projection, to: leftover)
            return leftover
        }
        let first = try plant()
        _ = try fixture.compliance()
        #expect(!FileManager.default.fileExists(atPath: first.path), "removed when the vault is opened")

        let second = try plant()
        _ = try fixture.desk().erase(subject: RequestFixture.bo)
        #expect(!FileManager.default.fileExists(atPath: second.path), "removed by the erasure before its no-trace check")

        // A live writer's temporary file is left alone.
        let live = fixture.layout.projections.appendingPathComponent(".x.enc.tmp-\(getpid() == 1 ? 2 : 1)")
        try Data([1]).write(to: live)
        #expect(AtomicFile.removeLeftovers(in: fixture.layout.projections).isEmpty)
        try FileManager.default.removeItem(at: live)
    }
}

/// Issue 15, class 9: a projection file restored from before an erasure is not read.
struct StaleProjectionTests {
    @Test("a projection file older than the latest erasure is refused; the purged files stay readable")
    func restoredCopyRefused() throws {
        let fixture = try RequestFixture()
        let url = ProjectionFile.url(fixture.layout, purpose: "support", role: .owner)
        let before = try Data(contentsOf: url)
        _ = try fixture.desk().erase(subject: RequestFixture.bo)
        // Every file the erasure purged (or that never held Bo) is current and readable.
        #expect(try fixture.supportRows()["bo@example.com"] == nil)
        #expect(try fixture.supportRows()["ann@example.com"] != nil)
        // The old copy put back: it still holds Bo, and is refused.
        try before.write(to: url)
        #expect {
            try fixture.supportRows()
        } throws: { error in
            guard case .stale? = error as? ProjectionError else { return false }
            return true
        }
        // A rebuild makes it current again, without Bo.
        try fixture.build()
        #expect(try fixture.supportRows()["bo@example.com"] == nil)
        #expect(try fixture.supportRows().count == 2)
    }

    @Test("a restriction stamps every file, even those the person was not in")
    func restrictionStampsAll() throws {
        let fixture = try RequestFixture()
        _ = try fixture.desk().restrict(subject: RequestFixture.cy, reason: "contested")
        let readable = fixture.policy.purposes.map(\.name).filter { fixture.policy.access[.owner]?.purposes[$0] != nil }
        #expect(readable.count >= 2)
        for purpose in readable {
            _ = try ProjectionReader(vault: fixture.owner, policy: fixture.policy, purpose: purpose, action: .query)
        }
    }
}
