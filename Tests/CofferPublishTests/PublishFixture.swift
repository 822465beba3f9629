import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
import CofferProjection
import CofferPublish
import CofferRequests
import CofferStore
import CofferTestSupport
import Foundation
import GRDB

/// A demo vault (café customers, consents, purchases) with projections built,
/// a compliance actor `dpo` and an analyst `ana`, and two ClickHouse servers
/// in one cluster.
final class PublishFixture {
    let scratch: ScratchVault
    let owner: Vault
    let policy: Policy
    let segments: [SegmentDefinition]
    let servers: LocalClickHouse
    let now = EventLog.now()
    static let dpoPassphrase = "publish dpo passphrase"
    static let analystPassphrase = "publish analyst passphrase"

    init(customers: Int = 150, shards: Int = 2) throws {
        servers = try LocalClickHouse(count: shards)
        scratch = try ScratchVault("publish")
        owner = try scratch.create()
        policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
        var configuration = DemoConfiguration()
        configuration.customers = customers
        configuration.start = DemoConfiguration.yearEnding(before: now)
        let data = DemoGenerator.generate(configuration)
        let ingestor = try Ingestor(vault: owner, policy: policy)
        try data.ingestEventsAndCarts(with: ingestor)
        segments = try SegmentCatalog.load(path: ScratchVault.repository.appendingPathComponent("policies/segments.yaml").path,
                                           policy: policy, required: true)
        try build()
        try owner.addActor("dpo", role: .compliance, passphrase: ScratchVault.secret(Self.dpoPassphrase), kdf: ScratchVault.kdf)
        try owner.addActor("ana", role: .analyst, passphrase: ScratchVault.secret(Self.analystPassphrase), kdf: ScratchVault.kdf)
    }

    func build() throws {
        _ = try ProjectionBuilder(vault: owner, policy: policy, segments: segments).build(now: now)
    }

    /// The shards of `servers`, in database `database`.
    func target(_ database: String, shards: Int? = nil) throws -> PublishTarget {
        let urls = Array(servers.urls.prefix(shards ?? servers.urls.count))
        return try PublishTarget(to: urls[0], shards: Array(urls.dropFirst()), database: database, cluster: urls.count > 1 ? "coffer" : nil,
                                 credentials: LocalClickHouse.credentials, partsLifetime: 30)
    }

    func publish(_ purpose: String = "marketing", role: Role = .analyst, database: String,
                 configure: (inout Publisher) -> Void = { _ in }) throws -> PublishReport {
        var publisher = Publisher(vault: owner, policy: policy)
        configure(&publisher)
        return try publisher.publish(purpose: purpose, role: role, to: target(database))
    }

    func dpo() throws -> RequestDesk {
        RequestDesk(vault: try scratch.unlock(actor: "dpo", passphrase: Self.dpoPassphrase), policy: policy, segments: segments)
    }

    func analyst() throws -> Vault { try scratch.unlock(actor: "ana", passphrase: Self.analystPassphrase) }

    /// The people of the purpose's file for `role`: customer_id → subject.
    func people(_ purpose: String = "marketing", role: Role = .analyst) throws -> [String: SubjectID] {
        try require_(SubjectMap.read(purpose: purpose, role: role, vault: owner))
    }

    /// The first email identifier of `subject`.
    func email(of subject: SubjectID) throws -> Identifier {
        let graph = try owner.identityGraph()
        let identifiers = try owner.database.read { try graph.identifiers(of: subject, in: $0) }
        return try require_(identifiers.first { $0.type == .email })
    }

    /// Rows of `customerID` in `table` on each shard (stored tables: `_local` on several shards).
    func rows(of customerID: String, in table: String, database: String) throws -> [Int] {
        let stored = servers.servers.count > 1 ? "\(table)_local" : table
        return try servers.servers.indices.map { index in
            try servers.client(index).integer("SELECT count() FROM `\(database)`.`\(stored)` WHERE customer_id = '\(customerID)'")
        }
    }
}

/// `#require` for use outside a test function's body (a fixture's helpers).
func require_<T>(_ value: T?, _ what: String = "value") throws -> T {
    guard let value else { throw LocalClickHouse.Failure("missing \(what)") }
    return value
}
