import CofferStore
import Foundation
import Prometheus
import Synchronization

/// The collector's metrics, kept in a swift-prometheus registry of its own
/// (not the process-wide MetricsSystem, so several collectors in one process,
/// as in tests, count apart) and served as Prometheus text at /metrics.
final class CollectorMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let byStatus = Mutex([Int: Counter]())
    private let eventsAccepted: Counter
    private let eventsDrained: Counter
    private let eventsQuarantined: Counter
    private let requestsDrained: Counter
    private let connectionsRefused: Counter
    private let connectionsOpen: Gauge
    private let inboxDepth: Gauge
    private let drainLag: Gauge
    private let latency: DurationHistogram

    init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "coffer", metricName: metric, unitName: unit, helpText: help)
        }
        eventsAccepted = registry.makeCounter(descriptor: name("events_accepted", "total", "Events acknowledged with a 200 (on disk in the inbox)."))
        requestsDrained = registry.makeCounter(descriptor: name("inbox_drained_requests", "total",
                                                                "Inbox requests drained into the vault by this process (serve --drain)."))
        eventsDrained = registry.makeCounter(descriptor: name("events_ingested", "total",
                                                              "Events that landed in the event log, drained by this process (serve --drain)."))
        eventsQuarantined = registry.makeCounter(descriptor: name("events_quarantined", "total",
                                                                  "Events quarantined at drain, by this process (serve --drain)."))
        connectionsRefused = registry.makeCounter(descriptor: name("connections_refused", "total",
                                                                   "Connections closed at once because the connection cap was reached."))
        connectionsOpen = registry.makeGauge(descriptor: name("connections_open", "", "Client connections open now."))
        inboxDepth = registry.makeGauge(descriptor: name("inbox_depth", "", "Sealed requests in the inbox, waiting to be drained."))
        drainLag = registry.makeGauge(descriptor: name("inbox_drain_lag", "seconds",
                                                       "How long the oldest request in the inbox has waited (0 when it is empty)."))
        latency = registry.makeDurationHistogram(
            descriptor: name("request_duration", "seconds", "Time from a request's arrival to its answer, accepted requests only."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)])
    }

    /// An answer with this HTTP status.
    func count(status: Int) {
        let counter = byStatus.withLock { counters in
            if let counter = counters[status] { return counter }
            let descriptor = MetricNameDescriptor(namespace: "coffer", metricName: "requests", unitName: "total",
                                                  helpText: "Requests answered, by HTTP status.")
            let counter = registry.makeCounter(descriptor: descriptor, labels: [("status", String(status))])
            counters[status] = counter
            return counter
        }
        counter.increment()
    }

    /// A 200 for a request of `events` events, answered `elapsed` after it arrived.
    func accepted(events: Int, elapsed: Duration) {
        count(status: 200)
        eventsAccepted.increment(by: Int64(events))
        latency.record(elapsed)
    }

    /// What a drain in this process did.
    func drained(requests: Int, ingested: Int, quarantined: Int) {
        requestsDrained.increment(by: Int64(requests))
        eventsDrained.increment(by: Int64(ingested))
        eventsQuarantined.increment(by: Int64(quarantined))
    }

    func connectionOpened() { connectionsOpen.increment() }
    func connectionClosed() { connectionsOpen.decrement() }
    func connectionRefused() { connectionsRefused.increment() }

    /// The exposition text, with the inbox's gauges read now.
    func text(inbox backlog: Inbox.Backlog?, now: Int64) -> [UInt8] {
        inboxDepth.set(Int64(backlog?.depth ?? -1))
        let waited = backlog?.oldestReceivedAt.map { max(0, Double(now - $0) / 1000) } ?? 0
        drainLag.set(waited)
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

/// A token bucket per write key: `perSecond` requests a second, bursts up to one
/// second's worth (at least one request, so a rate below 1 a second still admits).
final class RateLimiter: Sendable {
    private let perSecond: Double
    private let capacity: Double
    private let buckets = Mutex([String: (tokens: Double, at: ContinuousClock.Instant)]())

    init(perSecond: Double) {
        self.perSecond = perSecond
        capacity = max(1, perSecond)
    }

    /// nil when admitted; else the seconds to wait.
    func admit(_ key: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? (capacity, now)
            let elapsed = now - bucket.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + seconds * perSecond)
            bucket.at = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
