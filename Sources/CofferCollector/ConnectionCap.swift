import NIOCore
import Synchronization

/// A cap on the client connections open at once. With HTTP/1.1 a connection
/// carries one request at a time and a request holds at most 500 KB of body
/// (and its decompressed copy), so the cap bounds the memory requests take
/// under any load. A connection past the cap is closed as soon as it opens:
/// clients retry (every Segment SDK does), and those already connected keep
/// being served.
final class ConnectionCap: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)
    private let metrics: CollectorMetrics

    init(limit: Int, metrics: CollectorMetrics) {
        self.limit = limit
        self.metrics = metrics
    }

    /// A handler for one new connection's pipeline.
    func handler() -> Handler { Handler(cap: self) }

    /// Takes a place; false when the cap is reached.
    fileprivate func take() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= limit else {
            open.wrappingSubtract(1, ordering: .relaxed)
            metrics.connectionRefused()
            return false
        }
        metrics.connectionOpened()
        return true
    }

    fileprivate func give() {
        open.wrappingSubtract(1, ordering: .relaxed)
        metrics.connectionClosed()
    }

    /// Counts its connection in on joining the pipeline, out on leaving it (the
    /// connection closed); closes it at once when there was no place. It passes
    /// every inbound part on untouched.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        private let cap: ConnectionCap
        private var admitted = false

        fileprivate init(cap: ConnectionCap) { self.cap = cap }

        func handlerAdded(context: ChannelHandlerContext) {
            admitted = cap.take()
            if !admitted, context.channel.isActive { context.close(promise: nil) }
        }

        func channelActive(context: ChannelHandlerContext) {
            guard admitted else { return context.close(promise: nil) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard admitted else { return }
            context.fireChannelRead(data)
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            if admitted { cap.give() }
            admitted = false
        }
    }
}
