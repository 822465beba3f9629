public import CofferStore
import CofferCrypto
import CofferFormats
import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import Synchronization

/// `coffer serve`: the Segment HTTP Tracking API, answered from no key at
/// all. Each accepted request is sealed to the vault's collector public key
/// and appended to the inbox before the 200; `coffer ingest --inbox` (or
/// `serve --drain`) opens and ingests it later.
public final class Collector: Sendable {
    /// Where it listens, and its limits.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Requests a second per write key, before 429.
        public var requestsPerSecond = 2_000.0
        /// How often revoked and new sources are read from the vault.
        public var sourceReload: Duration = .seconds(2)
        /// Client connections open at once; one more is closed as it opens. With the
        /// 500 KB request limit this bounds the memory requests take.
        public var maxConnections = 256
        /// How long a request's body may take to arrive (else 408); a connection silent
        /// for twice as long (a head that never ends included) is closed.
        public var requestTimeout: Duration = .seconds(10)
        public init() {}
    }

    let layout: VaultLayout
    let configuration: Configuration
    let publicKey: X25519.PublicKey
    let writer: InboxWriter
    let inbox: Inbox
    let logger: Logger
    private let directory: Mutex<SourceDirectory>
    private let limiter: RateLimiter
    let metrics = CollectorMetrics()
    private let connections: ConnectionCap

    /// Opens the vault's inbox; needs no passphrase.
    /// - Throws: when the vault has no collector key yet (no source was added).
    public init(layout: VaultLayout, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "coffer.serve")) throws {
        guard layout.isInitialized else { throw VaultError.notInitialized(path: layout.directory.path) }
        guard let key = try Vault.collectorPublicKey(layout: layout) else {
            throw VaultError.invalidSource("this vault has no sources yet, so nothing could authenticate; add one with `coffer source add NAME --kind web`")
        }
        self.layout = layout
        self.configuration = configuration
        self.logger = logger
        publicKey = key
        inbox = try Inbox(layout: layout)
        writer = InboxWriter(inbox: inbox)
        directory = Mutex(try SourceDirectory.load(layout))
        limiter = RateLimiter(perSecond: configuration.requestsPerSecond)
        connections = ConnectionCap(limit: configuration.maxConnections, metrics: metrics)
    }

    /// Counts what a drain in this process did, for /metrics (`serve --drain`).
    public func recordDrain(requests: Int, ingested: Int, quarantined: Int) {
        metrics.drained(requests: requests, ingested: ingested, quarantined: quarantined)
    }

    /// Rereads the sources now, as the periodic reload does (for tests).
    public func reloadSourcesForTesting() { reloadSources() }

    /// Rereads the sources (a revoked key stops working at the next reload).
    func reloadSources() {
        do {
            let fresh = try SourceDirectory.load(layout)
            directory.withLock { $0 = fresh }
        } catch {
            logger.error("could not reload the sources; keeping the previous ones", metadata: ["error": "\(error)"])
        }
    }

    /// The HTTP application, listening where the configuration says. `onRunning` gets the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/health") { _, _ in Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#))) }
        router.get("/metrics") { [self] _, _ in
            let text = metrics.text(inbox: try? inbox.backlog(), now: EventLog.now())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        router.post("/v1/:endpoint") { [self] request, context in
            await self.respond(to: request, endpoint: context.parameters.get("endpoint") ?? "")
        }
        router.on("/v1/:endpoint", method: .options) { [self] request, _ in
            self.preflight(request)
        }
        let reload = configuration.sourceReload
        let connections = connections
        let timeout = configuration.requestTimeout.components
        // A silent connection (a head that never ends included) is closed after twice the request
        // timeout; a body that stalls gets its 408 at the timeout, before that.
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [connections.handler()],
                                               idleTimeout: .seconds(2 * max(1, timeout.seconds)))
        let app = Application(router: router, server: .http1(configuration: http1),
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "coffer"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                              logger: logger)
        Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: reload)
                guard let self else { return }
                self.reloadSources()
            }
        }
        return app
    }

    /// Stops the inbox writer after the server stopped: what was accepted is committed.
    public func finish() { writer.stop() }

    /// Serves until the calling task is cancelled, then shuts down gracefully
    /// (for tests and embedding; `run` adds the signals).
    public func serve(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await serve(signals: [], onRunning: onRunning)
    }

    /// Serves until SIGTERM or SIGINT, then answers the requests in flight, commits them and returns.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        defer { finish() }
        try await serve(signals: [.sigterm, .sigint], onRunning: onRunning)
    }

    /// Serves until one of `signals` arrives or the calling task is cancelled; either way it stops
    /// accepting connections and answers the requests in flight before returning.
    private func serve(signals: [UnixSignal], onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let group = ServiceGroup(services: [application(onRunning: onRunning)], gracefulShutdownSignals: signals, logger: logger)
        let running = Task { try await group.run() }
        do {
            try await withTaskCancellationHandler {
                try await running.value
            } onCancel: {
                Task { await group.triggerGracefulShutdown() }
            }
        } catch {
            throw CollectorError.listening(error, address: "\(configuration.host):\(configuration.port)") ?? error
        }
    }

    // MARK: Answers

    func respond(to request: Request, endpoint path: String) async -> Response {
        guard let endpoint = RequestBody.endpoints[path] else {
            return answer(Refusal(status: 404, reason: "no such endpoint; use /v1/identify, track, page, screen, group, alias, batch or import"), origin: nil)
        }
        let origin = request.headers[.origin]
        let start = ContinuousClock.now
        do {
            let body = try await collect(request)
            let parsed = try RequestBody(endpoint: endpoint, bytes: body)
            guard let key = RequestBody.basicKey(request.headers[.authorization]) ?? parsed.writeKey,
                  let source = directory.withLock({ $0.source(forKey: key) }), source.isActive else {
                throw Refusal.unauthorized
            }
            if let origin, !source.origins.contains(origin) {
                throw Refusal(status: 403, reason: "this origin is not allowed for the source; add it with `coffer source add … --origin`")
            }
            if let wait = limiter.admit(source.name) {
                throw Refusal(status: 429, reason: "rate limit: too many requests for this write key", retryAfter: wait)
            }
            let receivedAt = EventLog.now()
            let id = try SecureRandom.bytes(16)
            let envelope = InboxEnvelope(source: source.name, kind: source.kind, endpoint: endpoint, receivedAt: receivedAt, body: parsed.bytes)
            try await writer.append(id: id, receivedAt: receivedAt, sealed: envelope.sealed(to: publicKey, id: id))
            metrics.accepted(events: parsed.events, elapsed: ContinuousClock.now - start)
            var headers = corsHeaders(origin: origin, allowed: true)
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"success":true}"#)))
        } catch let refusal as Refusal {
            return answer(refusal, origin: origin)
        } catch {
            logger.error("a request could not be stored", metadata: ["error": "\(type(of: error))"])
            return answer(Refusal(status: 503, reason: "the request could not be stored; retry"), origin: origin)
        }
    }

    /// The body, decompressed, within the request limit and the request timeout.
    private func collect(_ request: Request) async throws -> [UInt8] {
        let limit = RequestBody.maxRequestBytes
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do { return try await request.body.collect(upTo: limit + 1) } catch is CancellationError {
                    return nil
                } catch {
                    throw Refusal.tooLarge("request larger than 500 KB")
                }
            }
            group.addTask { [timeout = configuration.requestTimeout] in
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw Refusal(status: 408, reason: "the request did not arrive in time")
            }
            return buffer
        }
        guard buffer.readableBytes <= limit else { throw Refusal.tooLarge("request larger than 500 KB") }
        let bytes = Array(buffer.readableBytesView)
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity": return bytes
        case "gzip": return try RequestBody.gunzip(bytes, limit: limit)
        default: throw Refusal.badRequest("unsupported Content-Encoding; send gzip or none")
        }
    }

    private func answer(_ refusal: Refusal, origin: String?) -> Response {
        metrics.count(status: refusal.status)
        var headers = corsHeaders(origin: origin, allowed: isAllowed(origin))
        headers[.contentType] = "application/json"
        if let wait = refusal.retryAfter { headers[.retryAfter] = String(wait) }
        var body = Array(#"{"success":false,"error":"#.utf8)
        CanonicalJSON.writeString(refusal.reason, into: &body)
        body.append(UInt8(ascii: "}"))
        return Response(status: HTTPResponse.Status(code: refusal.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A browser's CORS preflight: allowed when some active source lists the origin.
    func preflight(_ request: Request) -> Response {
        let origin = request.headers[.origin]
        let allowed = isAllowed(origin)
        metrics.count(status: allowed ? 204 : 403)
        return Response(status: allowed ? .noContent : .forbidden, headers: corsHeaders(origin: origin, allowed: allowed))
    }

    /// Whether some active source lists `origin` (a browser may then read the answer).
    private func isAllowed(_ origin: String?) -> Bool {
        guard let origin else { return false }
        return directory.withLock { $0.sources.contains { $0.isActive && $0.origins.contains(origin) } }
    }

    private func corsHeaders(origin: String?, allowed: Bool) -> HTTPFields {
        var headers = HTTPFields()
        guard let origin, allowed else { return headers }
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type, Authorization, Content-Encoding"
        headers[.accessControlMaxAge] = "86400"
        headers[.vary] = "Origin"
        return headers
    }
}
