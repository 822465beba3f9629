import CofferCrypto

/// Why a publish, a sync or a status could not be done.
package enum PublishError: CofferError, Equatable {
    /// A `--to` or `--shard` value that is not an http(s) base URL, or that carries credentials.
    case badURL(String, reason: String)
    /// A database, cluster or purpose name ClickHouse could not take as an identifier.
    case badName(what: String, name: String)
    case badCredentials(path: String, reason: String)
    /// The shard did not answer (down, refused, timed out).
    case unreachable(shard: String, detail: String)
    /// An `https://` shard whose certificate this machine does not trust (or a TLS handshake that failed).
    case untrusted(shard: String, detail: String)
    /// The shard answered with an error.
    case remote(shard: String, status: Int, message: String)
    /// The projection's `customer_id` is not a stable key for `role`, so a person's rows could not be found again to delete.
    case unstableKey(purpose: String, role: String)
    /// No map of the file's rows to people (never built by this version, or people were purged since).
    case noSubjectMap(purpose: String, role: String)
    /// The same purpose is already published to these shards and database for another role.
    case otherRole(purpose: String, role: String, database: String)
    /// A shard's tables did not show what was sent, or a delete did not take.
    case verificationFailed(shard: String, detail: String)
    /// More than one shard without a cluster name for the `Distributed` tables.
    case noCluster
    /// No copy of the purpose for the role in that database on those shards.
    case noSuchCopy(purpose: String, role: String, database: String)

    package var description: String {
        switch self {
        case let .badURL(url, reason):
            return "'\(url)' is not a usable ClickHouse address: \(reason)"
        case let .badName(what, name):
            return "the \(what) '\(name)' cannot name a ClickHouse table: use letters, digits and _, starting with a letter"
        case let .badCredentials(path, reason):
            return Self.line("cannot read ClickHouse credentials from \(path): \(reason)",
                             remedy: "the file holds `user: NAME` and `password: SECRET` lines (mode 600)")
        case let .unreachable(shard, detail):
            return Self.line("ClickHouse at \(shard) did not answer (\(detail))",
                             remedy: "check the address and that the server runs; deletes owed to it stay queued until it answers")
        case let .untrusted(shard, detail):
            return Self.line("the TLS connection to ClickHouse at \(shard) failed (\(detail))",
                             remedy: "its certificate must name the host and chain to a CA this machine trusts "
                                + "(/etc/ssl/certs; add an internal CA with update-ca-certificates)")
        case let .remote(shard, status, message):
            return "ClickHouse at \(shard) refused the request (HTTP \(status)): \(message)"
        case let .unstableKey(purpose, role):
            return "the policy does not give role \(role) a stable customer_id for purpose '\(purpose)' (denied or generalised), "
                + "so a published person could not be found again to delete: publish for a role that gets it allowed or tokenised"
        case let .noSubjectMap(purpose, role):
            return Self.line("projections/\(purpose).\(role).enc has no map of its rows to people (built by an older version, "
                + "or people were purged from it since its build)", remedy: "the owner rebuilds it with `coffer project build --purpose \(purpose)`")
        case let .otherRole(purpose, role, database):
            return "purpose '\(purpose)' is already published to these shards' database '\(database)' for role \(role): "
                + "publish this role to another --database"
        case let .verificationFailed(shard, detail):
            return "ClickHouse at \(shard) did not show what was expected: \(detail)"
        case let .noSuchCopy(purpose, role, database):
            return Self.line("no published copy of '\(purpose)' for role \(role) in database '\(database)' on those shards",
                             remedy: "`coffer publish status` lists the copies, with their shards")
        case .noCluster:
            return "with more than one shard, --cluster names the cluster (in the servers' remote_servers) the Distributed tables use"
        }
    }
}
