import Synchronization

/// The collector's counters, in Prometheus text format at /metrics.
final class CollectorMetrics: Sendable {
    private let state = Mutex((byStatus: [Int: Int](), requests: 0, events: 0))

    func count(status: Int) { state.withLock { $0.byStatus[status, default: 0] += 1 } }

    func accepted(events: Int) {
        state.withLock {
            $0.byStatus[200, default: 0] += 1
            $0.requests += 1
            $0.events += events
        }
    }

    func text(inboxDepth: Int) -> String {
        let snapshot = state.withLock { $0 }
        var out = "# HELP coffer_requests_total Requests answered, by HTTP status.\n# TYPE coffer_requests_total counter\n"
        for (status, count) in snapshot.byStatus.sorted(by: { $0.key < $1.key }) {
            out += "coffer_requests_total{status=\"\(status)\"} \(count)\n"
        }
        out += "# HELP coffer_events_accepted_total Events acknowledged (on disk in the inbox).\n# TYPE coffer_events_accepted_total counter\n"
        out += "coffer_events_accepted_total \(snapshot.events)\n"
        out += "# HELP coffer_inbox_depth Sealed requests waiting to be drained.\n# TYPE coffer_inbox_depth gauge\n"
        out += "coffer_inbox_depth \(inboxDepth)\n"
        return out
    }
}

/// A token bucket per write key: `perSecond` requests a second, bursts up to one second's worth.
final class RateLimiter: Sendable {
    private let perSecond: Double
    private let buckets = Mutex([String: (tokens: Double, at: ContinuousClock.Instant)]())

    init(perSecond: Double) { self.perSecond = perSecond }

    /// nil when admitted; else the seconds to wait.
    func admit(_ key: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? (perSecond, now)
            let elapsed = now - bucket.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(perSecond, bucket.tokens + seconds * perSecond)
            bucket.at = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
