@testable import CofferActivation
import CofferCrypto
import CofferFormats
import CofferPolicy
import CofferStore
import GRDB
import Foundation
import Synchronization
import Testing
import CofferTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A local HTTP receiver: answers each request with the next status of `statuses`
/// (then 200), and keeps what it was sent.
final class WebhookReceiver: Sendable {
    let port: UInt16
    private let socket: Int32
    private let state: Mutex<(statuses: [Int], requests: [(headers: [String: String], body: [UInt8])])>

    init(statuses: [Int]) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw VaultError.io(path: "127.0.0.1", detail: "cannot listen") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        socket = fd
        port = UInt16(bigEndian: address.sin_port)
        state = Mutex((statuses, []))
        let listener = socket
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                self.serve(connection)
            }
        }
    }

    var requests: [(headers: [String: String], body: [UInt8])] { state.withLock { $0.requests } }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var data: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Int?, contentLength = 0
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            data += buffer[..<count]
            if headerEnd == nil, let range = data.firstRange(of: Array("\r\n\r\n".utf8)) {
                headerEnd = range.upperBound
                for line in String(decoding: data[..<range.lowerBound], as: UTF8.self).split(separator: "\r\n") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" { contentLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0 }
                }
            }
            if let end = headerEnd, data.count >= end + contentLength { break }
        }
        let end = headerEnd!
        var headers: [String: String] = [:]
        for line in String(decoding: data[..<(end - 4)], as: UTF8.self).split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let status = state.withLock { state -> Int in
            state.requests.append((headers, Array(data[end..<(end + contentLength)])))
            return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
        }
        let response = "HTTP/1.1 \(status) Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        _ = response.withCString { write(connection, $0, strlen($0)) }
    }

    deinit { close(socket) }
}

/// Issue 20, item 2: the signed webhook POST, against a local receiver.
struct WebhookTests {
    static func policy(port: UInt16) throws -> Policy {
        let text = try String(contentsOfFile: ScratchVault.defaultPolicyPath, encoding: .utf8).replacingOccurrences(
            of: "    meta_ads:    { channel: ads, format: ads, fields: [email, phone] }",
            with: """
                    meta_ads:    { channel: ads, format: ads, fields: [email, phone] }
                    crm_hook:    { channel: email, format: json, fields: [email, first_name], url: "http://127.0.0.1:\(port)/hooks/coffer", secret_env: HOOK_SECRET }
                """)
        return try PolicyLoader.parse(text, file: "policy.yaml")
    }

    @Test("the audience arrives as signed JSON after two failures are retried; the signature verifies and the manifest says so")
    func retriesAndSignature() throws {
        let receiver = try WebhookReceiver(statuses: [503, 500])
        let fixture = try ActivationFixture()
        let policy = try Self.policy(port: receiver.port)
        var exporter = try AudienceExporter(vault: try fixture.marketing(), policy: policy)
        exporter.environment = ["HOOK_SECRET": "s3cret"]
        exporter.webhookBackoff = 0.01
        let report = try exporter.export(segment: "buyers", channel: .email, destination: "crm_hook",
                                         to: fixture.directory.appendingPathComponent("hook.json"), now: fixture.now)
        let requests = receiver.requests
        #expect(requests.count == 3, "two failures, then delivered")
        let last = try #require(requests.last)
        #expect(requests.map { $0.headers["idempotency-key"] } == Array(repeating: report.exportID, count: 3))
        let header = try #require(last.headers["x-coffer-signature"])
        let time = try #require(Int64(header.split(separator: ",")[0].dropFirst(2)))
        #expect(header == (try WebhookDelivery.signature(last.body, secret: Array("s3cret".utf8), time: time)))
        #expect(header != (try WebhookDelivery.signature(last.body + [0x20], secret: Array("s3cret".utf8), time: time)), "the body is covered")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(last.body)) as? [String: Any])
        let members = try #require(body["members"] as? [[String: Any]])
        #expect(members.count == 12 && Set(members.flatMap { $0.keys }) == ["email", "first_name"])
        #expect(report.manifest.contains("delivered (HTTP 200) after 3 tries"))
    }

    @Test("a receiver that keeps failing: the export fails after its retries, audited as not delivered, with no send counted")
    func failure() throws {
        let receiver = try WebhookReceiver(statuses: [500, 500, 500, 500])
        let fixture = try ActivationFixture()
        var exporter = try AudienceExporter(vault: try fixture.marketing(), policy: try Self.policy(port: receiver.port))
        exporter.environment = ["HOOK_SECRET": "s3cret"]
        exporter.webhookBackoff = 0.01
        #expect(throws: ActivationError.self) {
            try exporter.export(segment: "buyers", channel: .email, destination: "crm_hook", to: fixture.directory.appendingPathComponent("h.json"),
                                now: fixture.now)
        }
        #expect(receiver.requests.count == 4)
        let entry = try #require(try fixture.owner.auditEntries(AuditFilter(action: .audienceExport)).last)
        #expect(entry.details.reason?.contains("NOT delivered (HTTP 500) after 4 tries") == true)
        #expect(try fixture.owner.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM activation_sends") } == 0)
        exporter.environment = [:]
        #expect(throws: ActivationError.webhookSecretMissing("HOOK_SECRET")) {
            try exporter.export(segment: "buyers", channel: .email, destination: "crm_hook", to: fixture.directory.appendingPathComponent("x.json"),
                                now: fixture.now)
        }
    }
}
