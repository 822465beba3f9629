import CofferCrypto
import CofferDashboard
import CofferDemo
import CofferFormats
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferRequests
import CofferStore
import Foundation
import CofferTestSupport

/// A vault of the demo café (300 customers) with projections built, and one
/// actor of each role: ana (analyst), mia (marketing), dpo (compliance), aud (auditor).
final class DashboardFixture: @unchecked Sendable {
    let scratch: ScratchVault
    let owner: Vault
    let policy: Policy
    static let ownerPassphrase = "dashboard owner passphrase"
    static let actors: [(name: String, role: Role)] = [("ana", .analyst), ("mia", .marketing), ("dpo", .compliance), ("aud", .auditor)]
    static func passphrase(_ actor: String) -> String { actor == "owner" ? ownerPassphrase : "passphrase of \(actor)" }

    init(customers: Int = 300) throws {
        scratch = try ScratchVault("dashboard", passphrase: Self.ownerPassphrase)
        owner = try scratch.create()
        policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        _ = try VaultPolicy.apply(policyPath: ScratchVault.defaultPolicyPath,
                              segmentsPath: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path, vault: owner)
        let now = EventLog.now()
        var configuration = DemoConfiguration()
        configuration.customers = customers
        configuration.start = DemoConfiguration.yearEnding(before: now)
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: owner, policy: policy)
        try data.ingestEventsAndCarts(with: ingestor)
        let segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path,
                                               policy: policy, required: true)
        _ = try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(now: now)
        for (name, role) in Self.actors {
            try owner.addActor(name, role: role, passphrase: SecureBytes(Array(Self.passphrase(name).utf8)), kdf: ScratchVault.kdf)
        }
    }

    func unlock(_ actor: String) throws -> Vault {
        try Vault.unlock(layout: scratch.layout, actor: actor, passphrase: SecureBytes(Array(Self.passphrase(actor).utf8)))
    }

    func desk(_ actor: String) throws -> DashboardDesk { DashboardDesk(vault: try unlock(actor), policy: policy) }

    /// One fixture for a suite, made on a GCD thread: async tests must not hold one of the
    /// concurrency pool's few threads for the seconds it takes (the servers under test answer from that pool).
    static func shared(_ made: @escaping @Sendable () -> Result<DashboardFixture, any Error>) async throws -> DashboardFixture {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: made()) }
        }
    }

    /// A new fixture, made on a GCD thread (see `shared`).
    static func make() async throws -> DashboardFixture {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try DashboardFixture() }) }
        }
    }
}
