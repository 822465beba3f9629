import CofferStore
import Foundation

/// The load generator of `coffer bench serve`: one keep-alive HTTP/1.1
/// connection to a loopback port, on blocking sockets, one request at a time.
///
/// It knows just enough HTTP to post a body and read an answer with a
/// Content-Length: a load generator must cost less CPU than the server it
/// measures (both share this machine's cores), which neither Foundation's
/// URLSession (curl underneath) nor a second event loop would.
final class LoopbackClient {
    private let socket: LoopbackSocket
    /// Bytes read past the end of the last answer.
    private var received: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(port: Int) throws {
        socket = try LoopbackSocket(port: port)
    }

    /// Posts `body` to `path` with the extra header lines in `headers` (each ending in CRLF)
    /// and returns the answer's status once the whole answer is read.
    func post(_ path: String, headers: String, body: [UInt8]) throws -> Int {
        var request = Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)Content-Length: \(body.count)\r\n\r\n".utf8)
        request += body
        try socket.send(request)
        return try readAnswer()
    }

    private func readAnswer() throws -> Int {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while true {
            if let end = headEnd ?? Self.find(separator, in: received) {
                headEnd = end
                let head = String(decoding: received[..<end], as: UTF8.self)
                let length = Self.contentLength(head)
                if received.count >= end + 4 + length {
                    received.removeFirst(end + 4 + length)
                    let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
                    guard let status else { throw VaultError.io(path: "127.0.0.1:\(socket.port)", detail: "an answer without a status") }
                    return status
                }
            }
            guard let count = socket.receive(into: &chunk), count > 0 else {
                throw VaultError.io(path: "127.0.0.1:\(socket.port)", detail: "the server closed the connection before answering")
            }
            received += chunk[..<count]
        }
    }

    private static func contentLength(_ head: String) -> Int {
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            return Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}
