package import Foundation

/// Where a purpose's projection is published: the shards (the first one,
/// `--to`, also holds the shared tables), the database, and the cluster the
/// `Distributed` tables name.
package struct PublishTarget: Sendable {
    package var shards: [URL]
    package var database: String
    /// Needed with more than one shard: the `remote_servers` entry listing these shards, in this order.
    package var cluster: String?
    package var credentials: ClickHouseCredentials
    /// Seconds ClickHouse keeps a replaced or mutated part on disk (`old_parts_lifetime`; its default is 480).
    package var partsLifetime: Int

    package static let defaultDatabase = "coffer"
    package static let defaultPartsLifetime = 60

    /// - Throws: `PublishError` for a URL that is not http(s) or carries credentials, a bad name, or several shards without a cluster.
    package init(to: String, shards: [String] = [], database: String = defaultDatabase, cluster: String? = nil,
                 credentials: ClickHouseCredentials, partsLifetime: Int = defaultPartsLifetime) throws {
        self.shards = try ([to] + shards).map(ClickHouseClient.baseURL)
        guard RemoteSchema.isIdentifier(database) else { throw PublishError.badName(what: "database", name: database) }
        if let cluster, !RemoteSchema.isIdentifier(cluster) { throw PublishError.badName(what: "cluster", name: cluster) }
        guard self.shards.count == 1 || cluster != nil else { throw PublishError.noCluster }
        self.database = database
        self.cluster = self.shards.count > 1 ? cluster : nil
        self.credentials = credentials
        self.partsLifetime = max(partsLifetime, 1)
    }

    /// The shards' URLs as the vault records them.
    var shardNames: [String] { shards.map(\.absoluteString) }
}
