import CofferDashboard
import CofferFormats
import CofferStore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Testing
import CofferTestSupport

/// A browser stand-in: keeps cookies itself, follows no redirect, sends forms.
final class DashboardClient: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    let base: String
    var cookies: [String: String] = [:]
    /// Every Set-Cookie header seen, as sent.
    var setCookies: [String] = []
    private lazy var session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        return URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }()

    init(port: Int) { base = "http://127.0.0.1:\(port)" }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    func get(_ path: String) async throws -> Answer { try await send("GET", path, form: nil) }

    func post(_ path: String, _ form: [String: String]) async throws -> Answer { try await send("POST", path, form: form) }

    func send(_ method: String, _ path: String, form: [String: String]?) async throws -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if !cookies.isEmpty { request.setValue(cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "), forHTTPHeaderField: "Cookie") }
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            request.httpBody = Data(form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&").utf8)
        }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
        // Set-Cookie may be folded into one header by Foundation: split on the cookie names we use.
        if let raw = headers["set-cookie"] {
            for cookie in raw.components(separatedBy: ", coffer_").enumerated().map({ $0.offset == 0 ? $0.element : "coffer_" + $0.element }) {
                setCookies.append(cookie)
                let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2, !pair[1].isEmpty, !cookie.contains("Max-Age=0") { cookies[pair[0]] = pair[1] } else { cookies[pair[0]] = nil }
            }
        }
        return Answer(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
    }

    /// The hidden CSRF field of a page's form.
    static func csrf(in body: String) -> String? {
        guard let range = body.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(body[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Signs in; returns the final answer of the POST.
    func signIn(_ actor: String, _ passphrase: String) async throws -> Answer {
        let form = try await get("/signin")
        return try await post("/signin", ["actor": actor, "passphrase": passphrase, "csrf": DashboardClient.csrf(in: form.body) ?? ""])
    }
}

/// A dashboard server on a free loopback port over the fixture's vault.
final class RunningDashboard: @unchecked Sendable {
    let server: DashboardServer
    var port = 0
    private var task: Task<Void, any Error>?

    init(_ fixture: DashboardFixture, idleTimeout: Duration = .seconds(600)) async throws {
        var configuration = DashboardServer.Configuration()
        configuration.port = 0
        configuration.idleTimeout = idleTimeout
        server = try DashboardServer(layout: fixture.scratch.layout, policy: fixture.policy, configuration: configuration)
        let bound = AsyncStream<Int>.makeStream()
        let server = self.server
        task = Task { try await server.serve { bound.continuation.yield($0) } }
        for await port in bound.stream { self.port = port; break }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.result
    }
}

/// Issue 21: sign-in, sessions, CSRF, headers, roles and rate limits over real HTTP.
@Suite(.serialized)
struct DashboardServerTests {
    static let fixture = Result { try DashboardFixture() }

    @Test("sign-in sets an HttpOnly SameSite=Strict session cookie; pages carry a strict CSP; another role's page is 403; sign-out ends the session")
    func session() async throws {
        let fixture = try await DashboardFixture.shared { Self.fixture }
        let running = try await RunningDashboard(fixture)
        defer { Task { await running.stop() } }
        let client = DashboardClient(port: running.port)
        #expect(try await client.get("/p/overview").status == 303, "signed out: to the sign-in page")
        let signedIn = try await client.signIn("ana", DashboardFixture.passphrase("ana"))
        #expect(signedIn.status == 303 && signedIn.headers["location"] == "/p/overview")
        let cookie = try #require(client.setCookies.first { $0.hasPrefix("coffer_session=") })
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let page = try await client.get("/p/overview")
        #expect(page.status == 200 && page.body.contains("<svg") && page.body.contains("<h1>Overview</h1>"))
        #expect(page.headers["content-security-policy"]?.hasPrefix("default-src 'none'") == true)
        #expect(page.headers["x-content-type-options"] == "nosniff" && page.headers["cache-control"] == "no-store")
        #expect(!page.body.contains("<script") && !page.body.contains("https://"))
        let csv = try await client.get("/p/overview/channels.csv")
        #expect(csv.status == 200 && csv.headers["content-type"]?.hasPrefix("text/csv") == true && csv.body.hasPrefix("month,channel,purchases"))
        #expect(try await client.get("/p/requests").status == 403)
        #expect(try await client.get("/p/audit").status == 403)
        #expect(try await client.get("/p/nothing").status == 404)
        // Sign-out needs the session's CSRF token.
        #expect(try await client.post("/signout", ["csrf": "forged"]).status == 403)
        #expect(running.server.openSessions == 1)
        let out = try await client.post("/signout", ["csrf": DashboardClient.csrf(in: page.body) ?? ""])
        #expect(out.status == 303 && running.server.openSessions == 0)
        // The old cookie no longer opens anything.
        let stale = DashboardClient(port: running.port)
        stale.cookies["coffer_session"] = cookie.split(separator: ";")[0].split(separator: "=")[1].description
        #expect(try await stale.get("/p/overview").status == 303)
        let entries = try fixture.owner.auditEntries(AuditFilter(actor: "ana"))
        #expect(entries.contains { $0.action == .dashboardSignIn } && entries.contains { $0.action == .dashboardSignOut })
        #expect(entries.contains { $0.action == .dashboardDownload && $0.details.target == "page:overview/channels" })
    }

    @Test("a sign-in form posted without its token is refused; failed sign-ins are limited, then audited by the next one that succeeds")
    func signInLimits() async throws {
        let fixture = try await DashboardFixture.shared { Self.fixture }
        let running = try await RunningDashboard(fixture)
        defer { Task { await running.stop() } }
        let forged = DashboardClient(port: running.port)
        #expect(try await forged.post("/signin", ["actor": "ana", "passphrase": DashboardFixture.passphrase("ana"), "csrf": "x"]).status == 403)
        let client = DashboardClient(port: running.port)
        for _ in 0..<5 { #expect(try await client.signIn("mia", "not the passphrase").status == 401) }
        let limited = try await client.signIn("mia", DashboardFixture.passphrase("mia"))
        #expect(limited.status == 429 && limited.headers["retry-after"] != nil, "even the right passphrase waits")
        #expect(running.server.openSessions == 0)
        // Another actor from elsewhere is not held up by mia's streak… but this client's address is the same: wait it out is long,
        // so the audit of the failures is checked through a fresh server's sign-in of the owner below.
        let fresh = try await RunningDashboard(fixture)
        defer { Task { await fresh.stop() } }
        let other = DashboardClient(port: fresh.port)
        #expect(try await other.signIn("nobody", "wrong passphrase").status == 401)
        #expect(try await other.signIn("dpo", DashboardFixture.passphrase("dpo")).status == 303)
        let denied = try fixture.owner.auditEntries(AuditFilter(action: .dashboardSignIn, decision: .denied))
        #expect(denied.contains { $0.details.actor == "dpo" && $0.details.reason?.contains("'nobody'") == true })
    }

    @Test("a session unused for the idle timeout ends, and its keys with it")
    func idleTimeout() async throws {
        let fixture = try await DashboardFixture.shared { Self.fixture }
        // Long enough that a page rendered on a loaded machine (the whole suite on 2 cores) is not itself idle time.
        let running = try await RunningDashboard(fixture, idleTimeout: .seconds(2))
        defer { Task { await running.stop() } }
        let client = DashboardClient(port: running.port)
        #expect(try await client.signIn("aud", DashboardFixture.passphrase("aud")).status == 303)
        #expect(try await client.get("/p/integrity").status == 200)
        #expect(running.server.openSessions == 1)
        try await Task.sleep(for: .seconds(4))   // the sweep runs every half timeout
        #expect(running.server.openSessions == 0, "ended by the sweep, without a request")
        #expect(try await client.get("/p/integrity").status == 303)
    }
}
