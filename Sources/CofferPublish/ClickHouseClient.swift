import CofferProjection
package import Foundation
import FoundationNetworking
import Yams

/// Who Coffer is on the ClickHouse servers: from a file (`--credentials FILE`,
/// `user:` and `password:` lines) or the environment (`COFFER_CLICKHOUSE_USER`,
/// `COFFER_CLICKHOUSE_PASSWORD`), never from the command line, where `ps` and
/// the shell's history would show them. Neither: ClickHouse's `default` user.
package struct ClickHouseCredentials: Sendable, Equatable {
    package var user: String
    package var password: String

    package static let userVariable = "COFFER_CLICKHOUSE_USER"
    package static let passwordVariable = "COFFER_CLICKHOUSE_PASSWORD"

    package init(user: String = "default", password: String = "") {
        self.user = user
        self.password = password
    }

    /// From `file` when given, else from `environment`.
    package static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        guard let file else {
            return Self(user: environment[userVariable] ?? "default", password: environment[passwordVariable] ?? "")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PublishError.badCredentials(path: file, reason: "no such file, or not readable")
        }
        guard let text = String(data: data, encoding: .utf8),
              let fields = try? Yams.load(yaml: text) as? [String: Any], let user = fields["user"] as? String else {
            throw PublishError.badCredentials(path: file, reason: "expected `user:` and `password:`")
        }
        let password = fields["password"].map { "\($0)" } ?? ""
        return Self(user: user, password: password)
    }
}

/// One ClickHouse server over its HTTP interface: statements in the request
/// body, data inserted as TabSeparated bodies, credentials in headers (never in
/// the URL, which servers and proxies log).
package final class ClickHouseClient: Sendable {
    /// The server's base URL as given (no credentials in it).
    package let base: URL
    private let credentials: ClickHouseCredentials
    private let timeout: TimeInterval

    /// One session for every client, for the life of the process: a session is meant to live long (its
    /// connections are reused), and a client per shard and call, each making and invalidating its own, is
    /// the pattern Foundation on Linux handles worst (a test process crashed in its dispatch code once).
    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 120
        return URLSession(configuration: configuration, delegate: NoChallenges(), delegateQueue: nil)
    }()

    package init(base: URL, credentials: ClickHouseCredentials, timeout: TimeInterval = 120) {
        self.base = base
        self.credentials = credentials
        self.timeout = timeout
    }

    /// Checks `text` is an http(s) base URL without credentials, and returns it.
    package static func baseURL(_ text: String) throws -> URL {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty, let url = components.url else {
            throw PublishError.badURL(text, reason: "expected http://HOST:PORT or https://HOST:PORT")
        }
        guard components.user == nil, components.password == nil else {
            throw PublishError.badURL(text, reason: "credentials do not go on the command line: use --credentials FILE or "
                + "\(ClickHouseCredentials.userVariable) and \(ClickHouseCredentials.passwordVariable)")
        }
        guard components.query == nil, components.fragment == nil else { throw PublishError.badURL(text, reason: "no query or fragment") }
        return url
    }

    /// Runs one statement; returns what the server printed (trailing newline removed).
    @discardableResult
    package func execute(_ sql: String, settings: [String: String] = [:]) throws -> String {
        let text = String(decoding: try send(body: Data(sql.utf8), parameters: settings), as: UTF8.self)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// Rows of a query, each as its tab-separated fields (ClickHouse's escaping undone for \t, \n and \\).
    package func rows(_ sql: String) throws -> [[String]] {
        try execute(sql + " FORMAT TabSeparated").split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map { TabSeparated.unescape(String($0)) }
        }
    }

    /// One integer the query returns.
    package func integer(_ sql: String, settings: [String: String] = [:]) throws -> Int {
        let text = try execute(sql, settings: settings)
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw PublishError.verificationFailed(shard: base.absoluteString, detail: "expected a number, got '\(text.prefix(80))'")
        }
        return value
    }

    /// Ids a statement names at most: each `ALTER … DELETE` is a mutation that rewrites the parts it touches,
    /// so few large statements (with ClickHouse's limits raised to fit) beat many small ones.
    static let idsPerStatement = 100_000

    /// Runs `statement(list)` for each batch of `ids` (at most `idsPerStatement`), `list` being their SQL
    /// literals, with ClickHouse's limits raised to fit (its defaults: `max_query_size` 256 KiB,
    /// `max_ast_elements` 50,000). Returns each statement's answer.
    @discardableResult
    func run(for ids: [String], _ statement: (String) -> String) throws -> [String] {
        try stride(from: 0, to: ids.count, by: Self.idsPerStatement).map { start in
            let batch = ids[start..<min(start + Self.idsPerStatement, ids.count)]
            let sql = statement(batch.map(Self.literal).joined(separator: ", "))
            let elements = String(max(2 * batch.count + 10_000, 50_000))
            return try execute(sql, settings: ["max_query_size": String(max(sql.utf8.count + 4096, 262_144)),
                                               "max_ast_elements": elements, "max_expanded_ast_elements": elements])
        }
    }

    /// Polls `system.mutations` until `tables` have none unfinished (deletes done), for at most `timeout` seconds.
    func waitForMutations(database: String, tables: [String], timeout: TimeInterval = 60) throws {
        guard !tables.isEmpty else { return }
        let deadline = Date().addingTimeInterval(timeout)
        var pause = 0.005
        while try integer("SELECT count() FROM system.mutations WHERE database = \(Self.literal(database)) "
            + "AND table IN (\(tables.map(Self.literal).joined(separator: ", "))) AND is_done = 0") > 0 {
            guard Date() < deadline else {
                throw PublishError.verificationFailed(shard: base.absoluteString,
                                                      detail: "the delete on \(tables.joined(separator: ", ")) had not finished after \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.2)
        }
    }

    /// Runs `body` for every client at once (each shard's work is its own, and each waits on its server),
    /// then throws the first failure in the clients' order, if any.
    static func onEach(_ clients: [ClickHouseClient], _ body: @Sendable (ClickHouseClient) throws -> Void) throws {
        for result in parallelMap(clients.count, { try body(clients[$0]) }) { try result.get() }
    }

    /// A ClickHouse string literal.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Inserts `rows` (ClickHouse's RowBinary format) into `table`.
    package func insert(into table: String, rows: [UInt8], settings: [String: String] = [:]) throws {
        var parameters = settings
        parameters["query"] = "INSERT INTO \(table) FORMAT RowBinary"
        _ = try send(body: Data(rows), parameters: parameters)
    }

    private func send(body: Data, parameters: [String: String]) throws -> Data {
        var components = URLComponents(url: base, resolvingAgainstBaseURL: false)!
        if !parameters.isEmpty { components.queryItems = parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        // URLComponents leaves '+' as it is, which ClickHouse reads as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = URLRequest(url: components.url!, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue(credentials.user, forHTTPHeaderField: "X-ClickHouse-User")
        request.setValue(credentials.password, forHTTPHeaderField: "X-ClickHouse-Key")
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        Self.session.dataTask(with: request) { data, response, error in
            box.data = data
            box.status = (response as? HTTPURLResponse)?.statusCode
            box.error = error
            done.signal()
        }.resume()
        done.wait()
        let shard = base.absoluteString
        if let error = box.error as? URLError, error.code == .cancelled || error.code == .userAuthenticationRequired {
            throw PublishError.remote(shard: shard, status: 401, message: "the user and password were refused")
        }
        guard let status = box.status else {
            let detail = box.error.map { $0.localizedDescription } ?? "no response"
            if base.scheme?.lowercased() == "https", detail.contains("SSL") || detail.contains("certificate") {
                throw PublishError.untrusted(shard: shard, detail: detail)
            }
            throw PublishError.unreachable(shard: shard, detail: detail)
        }
        let data = box.data ?? Data()
        guard status == 200 else {
            let message = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PublishError.remote(shard: shard, status: status, message: String(message.prefix(400)))
        }
        return data
    }
}

/// Credentials go in ClickHouse's headers, never through HTTP authentication: a 401 (a wrong password,
/// with ClickHouse's `WWW-Authenticate: Basic`) is cancelled at once rather than answered, which
/// Foundation on Linux would otherwise wait on for ever.
private final class NoChallenges: NSObject, URLSessionTaskDelegate {
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}

/// A completion handler's results, read after it signalled.
private final class ResponseBox: @unchecked Sendable {   // written once before the semaphore is signalled, read after the wait
    var data: Data?
    var status: Int?
    var error: (any Error)?
}

/// ClickHouse's TabSeparated format, as query results come back in it.
package enum TabSeparated {
    /// One field of a TabSeparated result, unescaped (`\N` stays as it is).
    package static func unescape(_ field: String) -> String {
        guard field.contains("\\"), field != "\\N" else { return field }
        var out = "", escaped = false
        for character in field {
            if escaped {
                switch character {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "0": out.append("\0")
                default: out.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
