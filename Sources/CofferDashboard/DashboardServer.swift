import CofferCrypto
import CofferFormats
public import CofferPolicy
public import CofferStore
import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging

import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `coffer dashboard`: a local web dashboard. An actor signs in with their
/// passphrase; the server unlocks their keyslot and keeps the keys for the
/// session only (dropped, and so wiped, at sign-out or after the idle timeout).
/// Pages are rendered on the server (HTML with inline SVG charts, no script);
/// every view is an audit entry.
public final class DashboardServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8090
        /// A session unused this long is ended and its keys dropped.
        public var idleTimeout: Duration = .seconds(15 * 60)
        /// Failed sign-ins allowed per client and per actor name before a wait is imposed.
        public var allowedFailures = 5
        public init() {}
    }

    let layout: VaultLayout
    let policy: Policy
    let configuration: Configuration
    let logger: Logger
    let sessions = SessionStore()
    let limiter: SignInLimiter
    /// Signs the pre-sign-in CSRF tokens (random per server run).
    let formKey: [UInt8]

    public init(layout: VaultLayout, policy: Policy, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "coffer.dashboard")) throws {
        guard layout.isInitialized else { throw VaultError.notInitialized(path: layout.directory.path) }
        self.layout = layout
        self.policy = policy
        self.configuration = configuration
        self.logger = logger
        limiter = SignInLimiter(allowed: configuration.allowedFailures)
        formKey = try SecureRandom.bytes(32)
    }

    static let sessionCookie = "coffer_session"
    static let formCookie = "coffer_form"

    /// The HTTP application. `onRunning` gets the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: DashboardContext.self)
        router.add(middleware: SecurityHeaders())
        router.get("/static/style.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: PageHTML.stylesheet)))
        }
        router.get("/") { [self] request, _ in
            guard let session = session(of: request) else { return redirect("/signin") }
            return redirect("/p/" + (DashboardPage.pages(for: session.role).first?.rawValue ?? "overview"))
        }
        router.get("/signin") { [self] request, _ in signInForm(request, error: nil) }
        router.post("/signin") { [self] request, context in try await signIn(request, context: context) }
        router.post("/signout") { [self] request, _ in try await signOut(request) }
        router.get("/p/:page") { [self] request, context in try await show(request, page: context.parameters.get("page") ?? "", section: nil) }
        router.get("/p/:page/:section") { [self] request, context in
            try await show(request, page: context.parameters.get("page") ?? "", section: context.parameters.get("section"))
        }
        let app = Application(router: router,
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "coffer"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                              logger: logger)
        let idle = configuration.idleTimeout
        Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: min(.seconds(5), idle / 2))
                guard let self else { return }
                self.sessions.expire(idleFor: idle)
            }
        }
        return app
    }

    /// Serves until SIGTERM or SIGINT (or the task is cancelled); every session ends with it.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await serve(signals: [.sigterm, .sigint], onRunning: onRunning)
    }

    /// Serves until the calling task is cancelled (tests, embedding).
    public func serve(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await serve(signals: [], onRunning: onRunning)
    }

    private func serve(signals: [UnixSignal], onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        defer { sessions.endAll() }
        let group = ServiceGroup(services: [application(onRunning: onRunning)], gracefulShutdownSignals: signals, logger: logger)
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    /// How many sessions are open (for tests).
    public var openSessions: Int { sessions.count }

    // MARK: Sign-in

    func signInForm(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        // The form's token is an HMAC of a random value in a cookie: a form posted from another
        // site carries neither (SameSite=Strict keeps the cookie home).
        let nonce = (try? SecureRandom.bytes(16).hexString) ?? UUID().uuidString
        var headers = html()
        headers[.setCookie] = Self.cookie(Self.formCookie, nonce, path: "/signin")
        return Response(status: status, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: PageHTML.signIn(csrf: formToken(nonce), error: error))))
    }

    func formToken(_ nonce: String) -> String {
        (try? HMACSHA256(key: formKey).authenticate(Array(nonce.utf8)).hexString) ?? ""
    }

    func signIn(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await Self.form(request)
        let client = context.remoteAddress.map { "\($0.ipAddress ?? "?")" } ?? "?"
        guard let nonce = Self.cookies(request)[Self.formCookie], let token = form["csrf"],
              ConstantTime.equals(Array(token.utf8), Array(formToken(nonce).utf8)) else {
            return signInForm(request, error: "The form expired or came from elsewhere; sign in again.", status: .forbidden)
        }
        let actor = form["actor"]?.trimmingCharacters(in: .whitespaces) ?? ""
        if let wait = limiter.wait(client: client, actor: actor) {
            var response = signInForm(request, error: "Too many failed sign-ins: wait \(wait) s.", status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let passphrase = SecureBytes(Array((form["passphrase"] ?? "").utf8))
        let layout = self.layout, policy = self.policy
        // On a GCD thread, off the concurrency pool the server answers from: the passphrase's key
        // derivation takes a while on purpose, and the pool has as many threads as cores.
        let unlocked: Result<Unlocked, any Error> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { Unlocked(vault: try Vault.unlock(layout: layout, actor: actor, passphrase: passphrase)) })
            }
        }
        switch unlocked.map(\.vault) {
        case .failure:
            limiter.failed(client: client, actor: actor)
            // No key is open here: the failure is audited by the next successful sign-in.
            return signInForm(request, error: "Unknown actor or wrong passphrase.", status: .unauthorized)
        case let .success(vault):
            let failures = limiter.succeeded(client: client, actor: actor)
            let desk = DashboardDesk(vault: vault, policy: policy)
            if !failures.isEmpty {
                try vault.audit(.dashboardSignIn, decision: .denied, rows: failures.count,
                                reason: "\(failures.count) failed sign-in(s) before this one: "
                                    + failures.map { "'\($0.actor)' from \($0.client) at \(Timestamp.format($0.at))" }.joined(separator: "; "))
            }
            try vault.audit(.dashboardSignIn, reason: "from \(client)")
            let session = try sessions.open(desk)
            var headers = HTTPFields()
            headers[.location] = "/p/" + (DashboardPage.pages(for: vault.role).first?.rawValue ?? "overview")
            headers.append(.init(name: .setCookie, value: Self.cookie(Self.sessionCookie, session.token, path: "/")))
            headers.append(.init(name: .setCookie, value: Self.cookie(Self.formCookie, "", path: "/signin", maxAge: 0)))
            return Response(status: .seeOther, headers: headers)
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        let form = try await Self.form(request)
        guard let session = session(of: request) else { return redirect("/signin") }
        guard let token = form["csrf"], ConstantTime.equals(Array(token.utf8), Array(session.csrf.utf8)) else {
            return message(.forbidden, "Refused", "The sign-out form did not carry this session's token.")
        }
        _ = try? session.withDesk { try $0.vault.audit(.dashboardSignOut) }
        sessions.end(session.token)
        var headers = HTTPFields()
        headers[.location] = "/signin"
        headers[.setCookie] = Self.cookie(Self.sessionCookie, "", path: "/", maxAge: 0)
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: Pages

    func show(_ request: Request, page name: String, section: String?) async throws -> Response {
        guard let session = session(of: request) else { return redirect("/signin") }
        guard let page = DashboardPage(rawValue: name) else { return message(.notFound, "Not found", "There is no such page.") }
        let query = request.uri.queryParameters
        let purpose = query["purpose"].map(String.init)
        var filter = AuditFilter()
        filter.actor = query["actor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        filter.action = query["action"].map(String.init).flatMap { $0.isEmpty ? nil : AuditAction(rawValue: $0) }
        filter.decision = query["decision"].map(String.init).flatMap { AuditDecision(rawValue: $0) }
        if let since = query["since"].map(String.init), !since.isEmpty { filter.since = Timestamp.parse(since) ?? Timestamp.parse(since + "T00:00:00Z") }
        do {
            let csvID = section.map { $0.hasSuffix(".csv") ? String($0.dropLast(4)) : $0 }
            let rendered = try session.withDesk { desk in
                try desk.render(page, purpose: purpose, auditFilter: filter, action: csvID == nil ? .dashboardView : .dashboardDownload,
                                target: csvID.map { "page:\(page.rawValue)/\($0)" })
            }
            if let csvID {
                guard let found = rendered.section(csvID) else { return message(.notFound, "Not found", "There is no such table on this page.") }
                var headers = HTTPFields()
                headers[.contentType] = "text/csv; charset=utf-8"
                headers[.contentDisposition] = "attachment; filename=\"\(page.rawValue)-\(found.id).csv\""
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: found.table.csv)))
            }
            let filters = page == .audit ? Self.auditFilters(filter) : ""
            return Response(status: .ok, headers: html(), body: .init(byteBuffer: ByteBuffer(string: PageHTML.page(
                rendered, actor: session.actor, role: session.role, purposes: session.purposes, csrf: session.csrf, filters: filters))))
        } catch let error as DashboardError {
            return message(error == .sessionEnded ? .unauthorized : .forbidden, error == .sessionEnded ? "Signed out" : "Forbidden", error.message)
        } catch {
            // One line for the page, the details for the server's log only.
            logger.error("a dashboard page failed", metadata: ["page": "\(page.rawValue)", "error": "\(error)"])
            return message(.internalServerError, "This page could not be shown", "The server's log says why.")
        }
    }

    static func auditFilters(_ filter: AuditFilter) -> String {
        let decisions = ["", "allowed", "denied"].map { value in
            "<option value=\"\(value)\"\(filter.decision?.rawValue == value && !value.isEmpty ? " selected" : "")>\(value.isEmpty ? "any decision" : value)</option>"
        }.joined()
        return "<form class=\"filters\" method=\"get\" action=\"/p/audit\">"
            + "<input type=\"text\" name=\"actor\" placeholder=\"actor\" value=\"\(HTML.escape(filter.actor ?? ""))\">"
            + "<input type=\"text\" name=\"action\" placeholder=\"action (e.g. query)\" value=\"\(HTML.escape(filter.action?.rawValue ?? ""))\">"
            + "<select name=\"decision\">\(decisions)</select>"
            + "<input type=\"text\" name=\"since\" placeholder=\"since (2026-11-01)\" value=\"\(filter.since.map { HTML.escape(String(Timestamp.format($0).prefix(10))) } ?? "")\">"
            + "<button type=\"submit\">Filter</button></form>"
    }

    // MARK: Plumbing

    func session(of request: Request) -> Session? {
        guard let token = Self.cookies(request)[Self.sessionCookie], !token.isEmpty else { return nil }
        return sessions.touch(token, idleLimit: configuration.idleTimeout)
    }

    func html() -> HTTPFields { [.contentType: "text/html; charset=utf-8"] }

    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    func message(_ status: HTTPResponse.Status, _ title: String, _ text: String) -> Response {
        Response(status: status, headers: html(), body: .init(byteBuffer: ByteBuffer(string: PageHTML.message(title, text))))
    }

    static func cookie(_ name: String, _ value: String, path: String, maxAge: Int? = nil) -> String {
        "\(name)=\(value); Path=\(path); HttpOnly; SameSite=Strict" + (maxAge.map { "; Max-Age=\($0)" } ?? "")
    }

    static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                out[pair[0].trimmingCharacters(in: .whitespaces)] = pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return out
    }

    /// An application/x-www-form-urlencoded body (at most 16 KB).
    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 16_384)
        var out: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let key = parts.first { out[key] = parts.count > 1 ? parts[1] : "" }
        }
        return out
    }
}

/// A vault unlocked on another task, handed back once.
private final class Unlocked: @unchecked Sendable {
    let vault: Vault
    init(vault: Vault) { self.vault = vault }
}

/// The request context: Hummingbird's, with the client's address (sign-in limits count per client).
struct DashboardContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// CSP and the other security headers, on every answer.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = DashboardHeaders.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        response.headers[.init("Cross-Origin-Opener-Policy")!] = "same-origin"
        return response
    }
}
