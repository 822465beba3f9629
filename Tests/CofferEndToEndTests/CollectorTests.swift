import CofferBench
import CofferCollector
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferStore
import CofferTestSupport
import Foundation
import GRDB
import Logging
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Issue 18: `coffer serve` over real HTTP on a free loopback port.
struct CollectorTests {
    /// A vault with a web source, and a collector serving it on a free port.
    final class Server: @unchecked Sendable {
        let scratch: ScratchVault
        let owner: Vault
        let key: String
        let collector: Collector
        var port = 0
        private var task: Task<Void, any Error>?

        init(rate: Double = 2_000, maxConnections: Int = 256, requestTimeout: Duration = .seconds(10)) async throws {
            scratch = try ScratchVault("collector")
            owner = try scratch.create()
            key = try owner.addSource("website", kind: .web, origins: ["https://shop.example"], at: EventLog.now())
            var configuration = Collector.Configuration()
            configuration.port = 0
            configuration.requestsPerSecond = rate
            configuration.maxConnections = maxConnections
            configuration.requestTimeout = requestTimeout
            collector = try Collector(layout: scratch.layout, configuration: configuration)
            let bound = AsyncStream<Int>.makeStream()
            let collector = self.collector
            task = Task { try await collector.serve { port in bound.continuation.yield(port) } }
            for await port in bound.stream { self.port = port; break }
        }

        func stop() async {
            task?.cancel()
            _ = await task?.result
            collector.finish()
        }

        /// POSTs `body` to `/v1/path`; returns the status and body.
        func post(_ path: String, _ body: [UInt8], basic: String? = nil, headers: [String: String] = [:],
                  method: String = "POST") async throws -> (Int, String, [AnyHashable: Any]) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/\(path)")!)
            request.httpMethod = method
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if let basic { request.setValue("Basic " + Data("\(basic):".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            return (http.statusCode, String(decoding: data, as: UTF8.self), http.allHeaderFields)
        }

        func drain() throws -> InboxDrain.Report {
            let policy = try PolicyLoader.load(path: ScratchVault.defaultPolicyPath)
            return try InboxDrain(vault: owner, ingestor: Ingestor(vault: owner, policy: policy)).drain()
        }
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }

    static func event(_ id: String, type: String = "track", marker: String = "") -> String {
        #"{"type":"\#(type)","userId":"user-\#(id)","messageId":"\#(id)","event":"Order Completed","properties":{"revenue":3,"note":"\#(marker)"},"timestamp":"2026-11-01T10:00:00Z"}"#
    }

    @Test("every endpoint and short form, plain, text/plain and gzip bodies, Basic and body keys; then the drain lands each event once")
    func endpointsAndKeys() async throws {
        let server = try await Server()
        var sent = 0
        for (index, path) in ["identify", "track", "page", "screen", "group", "alias", "i", "t", "p", "s", "g", "a"].enumerated() {
            let (status, body, _) = try await server.post(path, Array(Self.event("e\(index)", type: "").replacingOccurrences(of: #""type":"","#, with: "").utf8),
                                                          basic: server.key, headers: index % 2 == 0 ? ["Content-Type": "text/plain"] : [:])
            #expect(status == 200 && body == #"{"success":true}"#, "\(path): \(status) \(body)")
            sent += 1
        }
        for (index, path) in ["batch", "b", "import"].enumerated() {
            let batch = #"{"batch":[\#(Self.event("b\(index)-1")),\#(Self.event("b\(index)-2", type: "identify"))],"context":{"library":{"name":"t"}},"writeKey":"\#(server.key)"}"#
            let gzipped = index == 1
            let (status, body, _) = try await server.post(path, gzipped ? try Self.gzip(Array(batch.utf8)) : Array(batch.utf8),
                                                          headers: gzipped ? ["Content-Encoding": "gzip"] : [:])
            #expect(status == 200, "\(path): \(status) \(body)")
            sent += 2
        }
        await server.stop()
        let report = try server.drain()
        #expect(report.requests == 15)
        #expect(report.ingest.accepted + report.ingest.quarantined == sent, "\(report.ingest)")
        #expect(report.ingest.accepted >= sent - 6, "alias and group events without their ids may be quarantined: \(report.ingest.reasons)")
        #expect(try Inbox(layout: server.scratch.layout).depth() == 0, "drained requests are deleted")
        // Draining again finds nothing: no request is ingested twice.
        #expect(try server.drain().requests == 0)
    }

    @Test("an event that fails validation is quarantined at drain, as from a file, with its JSON; the others land")
    func quarantinedAtDrain() async throws {
        let server = try await Server()
        let bad = #"{"type":"track","userId":"user-q","messageId":"bad-one","timestamp":"2026-11-01T10:00:00Z"}"#   // no event name
        let batch = #"{"batch":[\#(Self.event("good-1")),\#(bad),\#(Self.event("good-2"))],"context":{"app":{"name":"till"}}}"#
        #expect(try await server.post("batch", Array(batch.utf8), basic: server.key).0 == 200)
        await server.stop()
        let report = try server.drain()
        #expect(report.ingest.accepted == 2 && report.ingest.quarantined == 1, "\(report.ingest)")
        let held = try #require(try server.owner.quarantinedRecords().first)
        #expect(held.file == "inbox:website" && held.line == 2)
        let text = String(decoding: held.record, as: UTF8.self)
        #expect(text.contains(#""messageId":"bad-one""#) && text.contains(#""coffer_source":"website""#), "\(text)")
    }

    @Test("401 without or with a revoked key, 400 for bad JSON, 413 for an event, a request and a gzip bomb, 429, CORS preflight")
    func refusals() async throws {
        let server = try await Server(rate: 0.2)   // one request, then 429 for 5 s, however slow this machine is
        let event = Array(Self.event("x").utf8)
        #expect(try await server.post("track", event).0 == 401)
        #expect(try await server.post("track", event, basic: "cw_0000000000000000000000000000000000000000").0 == 401)
        let (bad, reason, _) = try await server.post("track", Array("{not json".utf8), basic: server.key)
        #expect(bad == 400 && !reason.contains("not json"), "the reason quotes no input: \(reason)")
        #expect(try await server.post("batch", Array(#"{"events":[]}"#.utf8), basic: server.key).0 == 400)
        let bigEvent = #"{"type":"track","userId":"u","event":"E","properties":{"x":"\#(String(repeating: "a", count: 33_000))"}}"#
        #expect(try await server.post("track", Array(bigEvent.utf8), basic: server.key).0 == 413)
        #expect(try await server.post("batch", Array(#"{"batch":[\#(bigEvent)]}"#.utf8), basic: server.key).0 == 413)
        let bigRequest = #"{"batch":[\#(Array(repeating: Self.event("r"), count: 4_000).joined(separator: ","))]}"#
        #expect(try await server.post("batch", Array(bigRequest.utf8), basic: server.key).0 == 413)
        let bomb = try Self.gzip(Array((#"{"batch":""# + String(repeating: "0", count: 20_000_000) + #""}"#).utf8))
        #expect(bomb.count < 100_000)
        #expect(try await server.post("batch", bomb, basic: server.key, headers: ["Content-Encoding": "gzip"]).0 == 413)
        // CORS: a listed origin is allowed, another is not.
        let (preflight, _, headers) = try await server.post("batch", [], headers: ["Origin": "https://shop.example"], method: "OPTIONS")
        #expect(preflight == 204)
        #expect(headers["Access-Control-Allow-Origin"] as? String == "https://shop.example")
        #expect(try await server.post("batch", [], headers: ["Origin": "https://evil.example"], method: "OPTIONS").0 == 403)
        let (foreign, _, foreignHeaders) = try await server.post("track", event, basic: server.key, headers: ["Origin": "https://evil.example"])
        #expect(foreign == 403)
        #expect(foreignHeaders["Access-Control-Allow-Origin"] == nil, "a refused origin is not told it may read the answer")
        // 429 once the key's bucket (one request, refilled every 5 s) is empty, with Retry-After.
        var statuses: [Int] = []
        var retryAfter: String?
        for index in 0..<12 {
            let (status, _, headers) = try await server.post("track", Array(Self.event("rate\(index)").utf8), basic: server.key)
            statuses.append(status)
            if status == 429 { retryAfter = headers["Retry-After"] as? String }
        }
        #expect(statuses.contains(429) && statuses.contains(200), "\(statuses)")
        #expect(retryAfter != nil)
        // A revoked key is refused after the next reload.
        try server.owner.revokeSource("website", at: EventLog.now())
        server.collector.reloadSourcesForTesting()
        #expect(try await server.post("track", event, basic: server.key).0 == 401)
        await server.stop()
    }

    @Test("a 10,000-event burst from 20 concurrent clients: drained events = acknowledged events; the inbox holds no plaintext")
    func burst() async throws {
        let server = try await Server(rate: 100_000)
        let marker = "MARKER-\(UUID().uuidString)"
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in 0..<20 {
                group.addTask {
                    var events = 0
                    for request in 0..<5 {
                        let batch = (0..<100).map { Self.event("c\(client)-r\(request)-\($0)", marker: marker) }.joined(separator: ",")
                        let (status, _, _) = try await server.post("batch", Array(#"{"batch":[\#(batch)]}"#.utf8), basic: server.key)
                        if status == 200 { events += 100 }
                    }
                    return events
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(acknowledged == 10_000)
        await server.stop()
        // No marker in the inbox file or its WAL: only sealed bytes are stored.
        for name in [Inbox.fileName, Inbox.fileName + "-wal"] {
            let url = server.scratch.layout.directory.appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: url.path) {
                #expect(data.range(of: Data(marker.utf8)) == nil, "\(name) holds plaintext")
                #expect(data.range(of: Data("Order Completed".utf8)) == nil, "\(name) holds plaintext")
            }
        }
        let report = try server.drain()
        #expect(report.ingest.accepted == acknowledged, "\(report.ingest)")
    }
}

/// Issue 18: `coffer serve` (the built binary) killed with SIGKILL in the middle
/// of a burst; `coffer ingest --inbox` then lands every acknowledged event once.
struct CollectorKillTests {
    /// The spawned server's stderr, read on a thread of its own until the port shows.
    final class Listening: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        let found = DispatchSemaphore(value: 0)

        init(_ pipe: Pipe) {
            Thread { [self] in
                let handle = pipe.fileHandleForReading
                while true {
                    let data = handle.availableData
                    if data.isEmpty { return }
                    lock.lock()
                    text += String(decoding: data, as: UTF8.self)
                    let complete = port != nil
                    lock.unlock()
                    if complete { found.signal() }
                }
            }.start()
        }

        var output: String { lock.lock(); defer { lock.unlock() }; return text }

        /// The port in "listening on 127.0.0.1:PORT", once printed.
        var port: Int? {
            guard let range = text.range(of: "listening on 127.0.0.1:") else { return nil }
            let digits = text[range.upperBound...].prefix { $0.isNumber }
            return text[range.upperBound...].dropFirst(digits.count).first == nil ? nil : Int(digits)
        }
    }

    /// `coffer serve` as a process of its own, on a vault (set up in-process, cheap keys)
    /// with one source, listening on a free loopback port.
    final class SpawnedServe {
        struct Failure: Error, CustomStringConvertible { let description: String }
        let coffer: CofferProcess
        let key: String
        let process: Process
        let listening: Listening
        let port: Int
        var vault: [String] { ["--vault", coffer.vault] }

        init(_ arguments: [String] = []) throws {
            coffer = try CofferProcess()
            let vault = ["--vault", coffer.vault]
            let created = coffer.runInProcess(["init"] + vault)
            let added = coffer.runInProcess(["source", "add", "till", "--kind", "pos"] + vault)
            guard created.status == 0, let key = added.stdout.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("cw_") }) else {
                throw Failure(description: "no vault or source: \(created.stderr) \(added.stdout) \(added.stderr)")
            }
            self.key = String(key)
            process = coffer.makeProcess(["serve", "--listen", "127.0.0.1:0"] + arguments + vault)
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            listening = Listening(errors)
            guard listening.found.wait(timeout: .now() + 30) == .success, let port = listening.port else {
                kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "serve did not start: \(listening.output)")
            }
            self.port = port
        }

        /// Kills the server if it still runs, and removes the vault.
        func cleanup() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            coffer.cleanup()
        }
    }

    @Test("serve killed with SIGKILL mid-burst: after ingest --inbox every acknowledged event is in the vault, none twice")
    func killedMidBurst() async throws {
        let serve = try SpawnedServe()
        defer { serve.cleanup() }
        let (coffer, vault, key, port, server) = (serve.coffer, serve.vault, serve.key, serve.port, serve.process)

        // 20 clients post batches of 100 until the server dies; each remembers what got a 200. A request
        // that fails before the kill (the machine loaded by the rest of the suite) is sent again under new
        // ids, so a batch the server kept without answering cannot come back as a duplicate.
        let acknowledged = Acknowledged()
        let clients = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<20 {
                    group.addTask {
                        var request = 0, attempt = 0
                        while request < 10 {
                            let ids = (0..<100).map { "k\(client)-\(request)-\(attempt)-\($0)" }
                            let batch = ids.map { CollectorTests.event($0) }.joined(separator: ",")
                            var post = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/batch")!)
                            post.httpMethod = "POST"
                            post.httpBody = Data(#"{"batch":[\#(batch)],"writeKey":"\#(key)"}"#.utf8)
                            do {
                                let (_, response) = try await URLSession.shared.data(for: post)
                                if (response as? HTTPURLResponse)?.statusCode == 200 { acknowledged.add(ids) }
                                request += 1
                            } catch {
                                if acknowledged.serverKilled { return }
                                acknowledged.failed("\(error)")
                                attempt += 1
                                try? await Task.sleep(for: .milliseconds(100))
                            }
                        }
                    }
                }
            }
        }
        let deadline = Date().addingTimeInterval(180)
        while acknowledged.count < 3_000, Date() < deadline, server.isRunning { try await Task.sleep(for: .milliseconds(2)) }
        acknowledged.serverKilled = true
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        await clients.value
        #expect(server.terminationReason == .uncaughtSignal, "the server was killed, not finished")
        let acked = acknowledged.ids
        #expect(acked.count >= 3_000 && acked.count < 20_000,
                "killed mid-burst: \(acked.count) acknowledged; failed requests before the kill: \(acknowledged.failures)")

        let drained = coffer.runInProcess(["ingest", "--inbox"] + vault)
        #expect(drained.status == 0, "\(drained.stderr)")
        #expect(drained.stdout.contains("duplicate 0"), "no request drained twice: \(drained.stdout)")
        let layout = VaultLayout(directory: URL(fileURLWithPath: coffer.vault))
        let owner = try Vault.unlock(layout: layout, passphrase: SecureBytes(Array(coffer.environment["COFFER_PASSPHRASE"]!.utf8)))
        let dedup = try owner.dedupIndex()
        // The events' time (CollectorTests.event): 2026-11-01T10:00:00Z.
        let keys = try acked.map { Data(try dedup.key(messageID: $0, content: [], occurredAt: 1_793_527_200_000).stored) }
        let found = try await owner.database.read { db in
            try keys.filter { try Int.fetchOne(db, sql: "SELECT count(*) FROM dedup_days WHERE key = ?", arguments: [$0]) == 1 }.count
        }
        #expect(found == acked.count, "every acknowledged event is in the vault: \(found) of \(acked.count)")
        #expect(try Inbox(layout: layout).depth() == 0)
        let again = coffer.runInProcess(["ingest", "--inbox"] + vault)
        #expect(again.stdout.contains("0 request(s) drained"), "\(again.stdout)")
    }

    @Test("serve --drain: SIGTERM stops it with status 0 after it drained what it accepted")
    func drainThenStop() async throws {
        let serve = try SpawnedServe(["--drain"])
        defer { serve.cleanup() }
        let (coffer, vault, key, port, server, listening) = (serve.coffer, serve.vault, serve.key, serve.port, serve.process, serve.listening)
        var post = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/batch")!)
        post.httpMethod = "POST"
        let batch = (0..<3).map { CollectorTests.event("term-\($0)") }.joined(separator: ",")
        post.httpBody = Data(#"{"batch":[\#(batch)],"writeKey":"\#(key)"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: post)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        #expect(server.terminationReason == .exit && server.terminationStatus == 0, "\(listening.output)")
        try await Task.sleep(for: .milliseconds(100))
        #expect(listening.output.contains("3 event(s) accepted"), "the last drain ran before the exit: \(listening.output)")
        let again = coffer.runInProcess(["ingest", "--inbox"] + vault)
        #expect(again.stdout.contains("0 request(s) drained"), "\(again.stdout)")
    }

    /// The message ids that got a 200, gathered from the client tasks.
    final class Acknowledged: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [String] = []
        private var errors: [String] = []
        private var killed = false
        /// Set when the test kills the server: requests failing from then on are expected.
        var serverKilled: Bool {
            get { lock.lock(); defer { lock.unlock() }; return killed }
            set { lock.lock(); killed = newValue; lock.unlock() }
        }
        func add(_ ids: [String]) { lock.lock(); all += ids; lock.unlock() }
        /// A request that failed, with why (the first few are kept for the test's message).
        func failed(_ error: String) { lock.lock(); if errors.count < 3 { errors.append(error) }; lock.unlock() }
        var failures: [String] { lock.lock(); defer { lock.unlock() }; return errors }
        var count: Int { lock.lock(); defer { lock.unlock() }; return all.count }
        var ids: [String] { lock.lock(); defer { lock.unlock() }; return all }
    }
}

/// Issue 18: the collector's logs carry no body, header value, write key or client address.
struct CollectorLogTests {
    /// Every log event, as text with its metadata, at every level.
    final class Sink: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    struct Capture: LogHandler {
        let sink: Sink
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
        }
    }

    @Test("at trace level, accepted and refused requests log no body, header value, write key or client address")
    func logsHoldNoPersonalData() async throws {
        let sink = Sink()
        let scratch = try ScratchVault("collector-logs")
        let owner = try scratch.create()
        let key = try owner.addSource("website", kind: .web, origins: ["https://shop.example"], at: EventLog.now())
        var configuration = Collector.Configuration()
        configuration.port = 0
        configuration.requestsPerSecond = 0.05   // one request, then 429 for the next 20 s however slow this machine is
        let collector = try Collector(layout: scratch.layout, configuration: configuration,
                                      logger: Logger(label: "coffer.serve") { _ in Capture(sink: sink) })
        let bound = AsyncStream<Int>.makeStream()
        let server = Task { try await collector.serve { bound.continuation.yield($0) } }
        var port = 0
        for await value in bound.stream { port = value; break }

        let marker = "LOGMARKER-\(UUID().uuidString)"
        let secretHeader = "HEADERMARKER-\(UUID().uuidString)"
        let body = Array(CollectorTests.event("log-1", marker: marker).utf8)
        let basic = "Basic " + Data("\(key):".utf8).base64EncodedString()
        var attempts: [([String: String], [UInt8])] = [
            (["Authorization": basic], body),                                                              // 200
            (["Authorization": "Basic " + Data("cw_\(marker):".utf8).base64EncodedString()], body),        // 401
            (["Authorization": basic], Array("{\(marker)".utf8)),                                          // 400
            (["Authorization": basic, "Origin": "https://\(marker).example"], body),                       // 403
        ]
        attempts += Array(repeating: (["Authorization": basic], body), count: 5)                          // 429 at last
        var statuses: [Int] = []
        for (headers, payload) in attempts {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/track")!)
            request.httpMethod = "POST"
            request.httpBody = Data(payload)
            request.setValue(secretHeader, forHTTPHeaderField: "X-Custom")
            request.setValue("Mozilla/5.0 \(marker)", forHTTPHeaderField: "User-Agent")
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (_, response) = try await URLSession.shared.data(for: request)
            statuses.append((response as! HTTPURLResponse).statusCode)
        }
        server.cancel()
        _ = await server.result
        collector.finish()
        #expect(Set(statuses).isSuperset(of: [200, 401, 400, 403, 429]), "\(statuses)")

        let lines = sink.all
        #expect(!lines.isEmpty, "the collector logs through swift-log")
        for line in lines {
            #expect(!line.contains(marker) && !line.contains(secretHeader), "a body or header value in the log: \(line)")
            #expect(!line.contains(key) && !line.contains("Basic "), "a write key in the log: \(line)")
            #expect(!line.contains("127.0.0.1") || line.contains("listening on 127.0.0.1:\(port)"), "a client address in the log: \(line)")
        }
    }
}

/// Issue 18: the real Segment (analytics-python) and RudderStack Python SDKs,
/// unchanged, send to the collector; every call they make lands. `scripts/test`
/// installs them from PyPI and says so when it could not (the test is then skipped).
struct CollectorSDKTests {
    static let sdkPath = ProcessInfo.processInfo.environment["COFFER_SDK_PYTHONPATH"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/sdk/send_with_sdks.py").path

    @Test("analytics-python and rudder-sdk-python post to serve; the drain lands all 9 calls",
          .enabled(if: sdkPath != nil, "COFFER_SDK_PYTHONPATH is not set (scripts/test installs the SDKs)"))
    func realSDKs() async throws {
        let server = try await CollectorTests.Server()
        let run = UUID().uuidString.prefix(8).lowercased()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "http://127.0.0.1:\(server.port)", server.key, String(run)]
        process.environment = ProcessInfo.processInfo.environment.merging(["PYTHONPATH": Self.sdkPath ?? ""]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the SDKs reported errors: \(printed)")
        await server.stop()

        let report = try server.drain()
        #expect(report.requests >= 2, "one batch from each SDK at least")
        #expect(report.ingest.accepted == 9, "6 Segment calls (identify, track, page, screen, group, alias) and 3 RudderStack ones: \(report.ingest)")
        #expect(report.ingest.quarantined == 0, "\(report.ingest.reasons)")
    }
}

/// Issue 18: what keeps the collector up under hostile clients, and what it reports.
struct CollectorLimitTests {
    /// A plain TCP connection to the collector, for what URLSession will not do
    /// (hold a connection idle, send half a request).
    final class RawConnection: @unchecked Sendable {
        let socket: LoopbackSocket

        init(port: Int) throws { socket = try LoopbackSocket(port: port) }

        func send(_ text: String) { try? socket.send(Array(text.utf8)) }

        /// What arrives until the server closes the connection or `seconds` pass, and whether it
        /// closed. It waits on a thread of its own: a blocked cooperative thread would stall the
        /// collector in this process.
        func read(for seconds: Int) async -> (text: String, closed: Bool) {
            let (text, closed, _) = await exchange(nil, for: seconds)
            return (text, closed)
        }

        /// Sends `text` (if any), then reads as `read` does; also returns the seconds from the send
        /// to the end of the read, timed on the reading thread (the test's task may wait to resume).
        func exchange(_ text: String?, for seconds: Int) async -> (text: String, closed: Bool, seconds: Double) {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    if let text { self.send(text) }
                    let start = ContinuousClock.now
                    let (received, closed) = self.readBlocking(for: seconds)
                    let elapsed = (ContinuousClock.now - start).components
                    continuation.resume(returning: (received, closed, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18))
                }
            }
        }

        private func readBlocking(for seconds: Int) -> (text: String, closed: Bool) {
            socket.setReceiveTimeout(seconds: seconds)
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                guard let count = socket.receive(into: &buffer) else { return (String(decoding: bytes, as: UTF8.self), socket.wasReset) }
                if count == 0 { return (String(decoding: bytes, as: UTF8.self), true) }
                bytes += buffer[..<count]
            }
        }
    }

    static func get(_ port: Int, _ path: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return String(decoding: data, as: UTF8.self)
    }

    @Test("GET /health answers; /metrics counts answers by status, accepted events, the inbox's depth and drain lag")
    func metrics() async throws {
        let server = try await CollectorTests.Server()
        #expect(try await Self.get(server.port, "/health") == #"{"status":"ok"}"#)
        for index in 0..<3 {
            #expect(try await server.post("track", Array(CollectorTests.event("m\(index)").utf8), basic: server.key).0 == 200)
        }
        #expect(try await server.post("track", Array(CollectorTests.event("m9").utf8)).0 == 401)
        let text = try await Self.get(server.port, "/metrics")
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"coffer_requests_total{status="200"} 3"#), "\(text)")
        #expect(lines.contains(#"coffer_requests_total{status="401"} 1"#))
        #expect(lines.contains("coffer_events_accepted_total 3"))
        #expect(lines.contains("coffer_inbox_depth 3.0"))
        #expect(lines.contains("coffer_request_duration_seconds_count 3"))
        #expect(lines.contains("# TYPE coffer_inbox_drain_lag_seconds gauge"))
        let lag = lines.first { $0.hasPrefix("coffer_inbox_drain_lag_seconds ") }.flatMap { Double($0.split(separator: " ")[1]) }
        #expect((lag ?? -1) >= 0 && (lag ?? 99) < 60, "the oldest request waited since it was posted: \(String(describing: lag))")
        await server.stop()
        _ = try server.drain()
        let backlog = try Inbox(layout: server.scratch.layout).backlog()
        #expect(backlog.depth == 0 && backlog.oldestReceivedAt == nil)
    }

    @Test("a port already in use gives one clear error, not a stack of NIO's")
    func portInUse() async throws {
        let server = try await CollectorTests.Server()
        var configuration = Collector.Configuration()
        configuration.port = server.port
        let second = try Collector(layout: server.scratch.layout, configuration: configuration)
        await #expect(throws: CollectorError.cannotListen(address: "127.0.0.1:\(server.port)", reason: "the address is in use")) {
            try await second.serve()
        }
        second.finish()
        await server.stop()
    }

    @Test("a connection past --max-connections is closed at once and counted; the ones before it are served")
    func connectionCap() async throws {
        // The built binary, in a process of its own (as `slowClients`): in this one, other suites'
        // synchronous tests can hold the cooperative threads the collector answers on, and a held
        // connection then waits past any fixed read. A long timeout keeps the held ones from idling out.
        let serve = try CollectorKillTests.SpawnedServe(["--max-connections", "2", "--request-timeout", "120"])
        defer { serve.cleanup() }
        do {
            let connections = try (0..<3).map { _ in try RawConnection(port: serve.port) }
            // One of the three (the last accepted) is closed by the server at once, with nothing sent;
            // the three are watched side by side, so a slow accept does not eat into the others' time.
            let (a, b, c) = (connections[0], connections[1], connections[2])
            async let first = a.read(for: 3)
            async let second = b.read(for: 3)
            async let third = c.read(for: 3)
            let closed = await [first.closed, second.closed, third.closed]
            #expect(closed.filter { $0 }.count == 1, "\(closed)")
            // The two held connections are served.
            for connection in zip(connections, closed).filter({ !$0.1 }).map(\.0) {
                connection.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let answer = await connection.read(for: 30)
                #expect(answer.text.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
        }
        // Their places are free again once they closed (the client's side too, at the end of the block above);
        // /metrics counted the refusal(s).
        var metrics = ""
        for _ in 0..<250 where !metrics.contains("# TYPE coffer_connections_refused_total") {
            metrics = (try? await Self.get(serve.port, "/metrics")) ?? ""
            try await Task.sleep(for: .milliseconds(20))
        }
        let refused = metrics.split(separator: "\n").first { $0.hasPrefix("coffer_connections_refused_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) }
        #expect((refused ?? 0) >= 1, "\(metrics)")
    }

    @Test("a body that never finishes gets 408 after --request-timeout; a head that never finishes is cut off")
    func slowClients() async throws {
        // The built binary, in a process of its own: in this one, other suites' synchronous tests can
        // hold the cooperative threads the collector's timeout task runs on.
        let serve = try CollectorKillTests.SpawnedServe(["--request-timeout", "1"])
        defer { serve.cleanup() }
        let port = serve.port

        let slowBody = try RawConnection(port: port)
        let answer = await slowBody.exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                             + "Content-Length: 500\r\n\r\n{\"type\":", for: 10)
        #expect(answer.text.hasPrefix("HTTP/1.1 408"), "\(answer.text)")
        #expect(answer.seconds >= 0.9 && answer.seconds < 5, "408 after the 1 s timeout: \(answer.seconds) s")
        let slowHead = try RawConnection(port: port)
        let cut = await slowHead.exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\n", for: 10)
        #expect(cut.closed && cut.text.isEmpty, "a connection that never finishes its head is closed")
        #expect(cut.seconds >= 1.5 && cut.seconds < 8, "closed after twice the timeout: \(cut.seconds) s")
    }
}
