package import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Throw-away ClickHouse servers on loopback, for `coffer publish`'s tests and
/// `coffer bench publish`: each a child process (no systemd) with its own
/// config, users and data directory under a scratch directory, on free ports,
/// in one cluster named `coffer` whose shards are the servers in order.
/// Stopped (SIGKILL) and removed when released; `scripts/test` installs
/// Debian's clickhouse-server.
package final class LocalClickHouse: @unchecked Sendable {   // one test owns it; `processes` changes only through its calls
    package struct Server: Sendable {
        package var httpPort: UInt16
        package var tcpPort: UInt16
        /// Serves `https://` too (0: not).
        package var httpsPort: UInt16 = 0
        package var directory: URL
        package var url: String { "http://127.0.0.1:\(httpPort)" }
        package var httpsURL: String { "https://127.0.0.1:\(httpsPort)" }
    }

    /// A certificate and its key (PEM files) for the servers' `https_port`.
    package struct TLSFiles: Sendable {
        package var certificate: String
        package var key: String
        package init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    package static let user = "coffer"
    package static let password = "publish test secret"
    package static let credentials = ClickHouseCredentials(user: user, password: password)

    package let directory: URL
    package private(set) var servers: [Server]
    private var processes: [pid_t?]

    /// The server binary, or nil when ClickHouse is not installed.
    package static let binary: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let places = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin"]
        return places.map { "\($0)/clickhouse-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    private let tls: TLSFiles?

    /// Starts `count` servers (a cluster of `count` shards), serving `https://` too with `tls`.
    package init(count: Int = 2, tls: TLSFiles? = nil) throws {
        self.tls = tls
        guard let binary = Self.binary else {
            throw Failure("clickhouse-server is not installed: `apt-get install clickhouse-server clickhouse-client` (scripts/test does)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-clickhouse-\(UUID().uuidString)")
        var servers: [Server] = []
        for index in 0..<count {
            let folder = directory.appendingPathComponent("shard\(index + 1)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            servers.append(Server(httpPort: 0, tcpPort: 0, directory: folder))
        }
        self.servers = servers
        processes = Array(repeating: nil, count: count)
        // A port free when picked may be taken before the server binds it (by a server another test starts at
        // the same time): then all start again on other ports.
        for attempt in 1...Self.attempts {
            do {
                for index in servers.indices {
                    self.servers[index].httpPort = try Self.freePort()
                    self.servers[index].tcpPort = try Self.freePort()
                    if tls != nil { self.servers[index].httpsPort = try Self.freePort() }
                }
                for server in self.servers { try Self.writeConfig(for: server, cluster: self.servers, tls: tls) }
                for index in servers.indices { try start(index, binary: binary) }
                return
            } catch let failure as Failure where failure.description.contains("Address already in use") && attempt < Self.attempts {
                for index in servers.indices { stop(index) }
            }
        }
    }

    private static let attempts = 4

    deinit {
        for index in processes.indices { stop(index) }
        try? FileManager.default.removeItem(at: directory)
    }

    package var urls: [String] { servers.map(\.url) }

    /// (Re)starts server `index` and waits until it answers.
    package func start(_ index: Int, binary: String? = LocalClickHouse.binary) throws {
        guard processes[index] == nil, let binary else { return }
        let server = servers[index]
        // posix_spawn and waitpid rather than Foundation's Process, which reaps its children one at a
        // time with a blocking wait: a killed server stays a zombie while another one runs.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [binary, "--config-file=\(server.directory.appendingPathComponent("config.xml").path)"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &actions, nil, &argv, environ)
        guard spawned == 0 else { throw Failure("cannot start \(binary): errno \(spawned)") }
        processes[index] = pid
        let client = ClickHouseClient(base: URL(string: server.url)!, credentials: Self.credentials, timeout: 2)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? client.execute("SELECT 1")) == "1" { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                processes[index] = nil
                break
            }
            usleep(20_000)
        }
        let log = (try? String(contentsOf: server.directory.appendingPathComponent("server.err.log"), encoding: .utf8)) ?? ""
        stop(index)
        throw Failure("clickhouse-server on port \(server.httpPort) did not start: \(log.suffix(600))")
    }

    /// Kills server `index` (SIGKILL: as a crash or a pulled cable would stop it).
    package func stop(_ index: Int) {
        guard let pid = processes[index] else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        processes[index] = nil
    }

    /// A client of server `index`, as Coffer's tests' analyst.
    package func client(_ index: Int) -> ClickHouseClient {
        ClickHouseClient(base: URL(string: servers[index].url)!, credentials: Self.credentials)
    }

    private static func writeConfig(for server: Server, cluster: [Server], tls: TLSFiles?) throws {
        let path = server.directory.path
        let https = tls.map { files in
            """
            <https_port>\(server.httpsPort)</https_port>
              <openSSL><server><certificateFile>\(files.certificate)</certificateFile><privateKeyFile>\(files.key)</privateKeyFile>
                <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
                <disableProtocols>sslv2,sslv3</disableProtocols></server></openSSL>
            """
        } ?? ""
        let shards = cluster.map { "<shard><replica><host>127.0.0.1</host><port>\($0.tcpPort)</port></replica></shard>" }.joined()
        let config = """
            <?xml version="1.0"?>
            <yandex>
              <logger><level>warning</level><log>\(path)/server.log</log><errorlog>\(path)/server.err.log</errorlog></logger>
              <http_port>\(server.httpPort)</http_port>
              <tcp_port>\(server.tcpPort)</tcp_port>
              \(https)
              <listen_host>127.0.0.1</listen_host>
              <path>\(path)/data/</path>
              <tmp_path>\(path)/tmp/</tmp_path>
              <user_files_path>\(path)/user_files/</user_files_path>
              <format_schema_path>\(path)/format_schemas/</format_schema_path>
              <users_config>\(path)/users.xml</users_config>
              <default_profile>default</default_profile>
              <default_database>default</default_database>
              <mark_cache_size>67108864</mark_cache_size>
              <uncompressed_cache_size>67108864</uncompressed_cache_size>
              <max_concurrent_queries>50</max_concurrent_queries>
              <remote_servers><coffer>\(shards)</coffer></remote_servers>
            </yandex>
            """
        // `default` (no password, loopback only) is what the Distributed tables use between the servers.
        let users = """
            <?xml version="1.0"?>
            <yandex>
              <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
              <users>
                <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
                <\(user)><password>\(password)</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></\(user)>
              </users>
              <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
            </yandex>
            """
        try config.write(to: server.directory.appendingPathComponent("config.xml"), atomically: true, encoding: .utf8)
        try users.write(to: server.directory.appendingPathComponent("users.xml"), atomically: true, encoding: .utf8)
    }

    /// A loopback port nobody listens on now, picked at random below Linux's ephemeral range (32768 on):
    /// the kernel's own pick for port 0 is an ephemeral port, which any outgoing connection (this process's
    /// HTTP clients among them) may take before the server binds it.
    private static func freePort() throws -> UInt16 {
        for _ in 0..<200 {
            let port = UInt16.random(in: 20_000..<32_000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure("socket() failed") }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if bound { return port }
        }
        throw Failure("no free port between 20000 and 32000")
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }
}
