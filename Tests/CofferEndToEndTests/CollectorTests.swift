import CofferCollector
import CofferCrypto
import CofferIngest
import CofferPolicy
import CofferStore
import CofferTestSupport
import Foundation
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

        init(rate: Double = 2_000) async throws {
            scratch = try ScratchVault("collector")
            owner = try scratch.create()
            key = try owner.addSource("website", kind: .web, origins: ["https://shop.example"], at: EventLog.now())
            var configuration = Collector.Configuration()
            configuration.port = 0
            configuration.requestsPerSecond = rate
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

    @Test("401 without or with a revoked key, 400 for bad JSON, 413 for an event, a request and a gzip bomb, 429, CORS preflight")
    func refusals() async throws {
        let server = try await Server(rate: 5)
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
        // 429 once the key's bucket (5 a second) is empty, with Retry-After.
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
