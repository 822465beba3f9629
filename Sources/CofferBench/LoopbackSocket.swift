import CofferStore
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection to a port on 127.0.0.1: what `bench serve`'s
/// clients and the collector's tests talk HTTP over, byte by byte.
package final class LoopbackSocket: @unchecked Sendable {
    private let socket: Int32
    package let port: Int

    /// Connects, with Nagle's delay off (each request goes out at once).
    package init(port: Int) throws {
        self.port = port
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Self.failure(port, "cannot open a socket") }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Self.failure(port, "cannot connect")
        }
    }

    deinit { close(socket) }

    /// Sends every byte; throws when the other side has closed.
    package func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Self.failure(port, "the server closed the connection while a request was sent") }
            sent += written
        }
    }

    /// What arrived, into `buffer`: the count of bytes, 0 when the other side closed,
    /// nil when nothing came within the receive timeout or the connection was reset.
    package func receive(into buffer: inout [UInt8]) -> Int? {
        let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        return count >= 0 ? count : nil
    }

    /// Whether the last failed `receive` was a reset (the other side closed at once).
    package var wasReset: Bool { errno == ECONNRESET }

    /// How long `receive` waits before returning nil.
    package func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func failure(_ port: Int, _ detail: String) -> VaultError {
        .io(path: "127.0.0.1:\(port)", detail: detail)
    }
}
