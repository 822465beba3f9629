import CofferCrypto
import CofferFormats
import CofferStore
import Foundation
import Synchronization

/// One signed-in browser: a random token (the cookie), a CSRF token for its
/// forms, and the actor's desk (their unlocked vault). Requests of one session
/// run one at a time.
final class Session: @unchecked Sendable {
    let token: String
    let csrf: String
    let actor: String
    let role: Role
    let purposes: [String]
    private let lock = NSLock()
    private var desk: DashboardDesk?
    private var lastUsed = ContinuousClock.now

    init(desk: DashboardDesk) throws {
        token = try SecureRandom.bytes(32).hexString
        csrf = try SecureRandom.bytes(32).hexString
        actor = desk.vault.actor
        role = desk.role
        purposes = desk.purposes
        self.desk = desk
    }

    /// Runs `body` with the desk, alone; throws if the session ended meanwhile.
    func withDesk<T>(_ body: (DashboardDesk) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let desk else { throw DashboardError.sessionEnded }
        lastUsed = .now
        return try body(desk)
    }

    var idle: Duration { lock.withLock { .now - lastUsed } }

    /// Drops the desk: the vault, its keys and the decrypted projections go with it.
    func end() {
        lock.withLock { desk = nil }
    }
}

/// The open sessions, by token.
final class SessionStore: Sendable {
    private let sessions = Mutex<[String: Session]>([:])

    func open(_ desk: DashboardDesk) throws -> Session {
        let session = try Session(desk: desk)
        sessions.withLock { $0[session.token] = session }
        return session
    }

    /// The session of `token`, if it is open and was used within `limit` (else it ends now).
    func touch(_ token: String, idleLimit limit: Duration) -> Session? {
        guard let session = sessions.withLock({ $0[token] }) else { return nil }
        guard session.idle < limit else {
            end(token)
            return nil
        }
        return session
    }

    func end(_ token: String) {
        let session = sessions.withLock { $0.removeValue(forKey: token) }
        session?.end()
    }

    /// Ends every session unused for `limit`.
    func expire(idleFor limit: Duration) {
        let stale = sessions.withLock { all -> [Session] in
            let old = all.values.filter { $0.idle >= limit }
            for session in old { all.removeValue(forKey: session.token) }
            return old
        }
        for session in stale { session.end() }
    }

    func endAll() {
        let all = sessions.withLock { all -> [Session] in
            defer { all.removeAll() }
            return Array(all.values)
        }
        for session in all { session.end() }
    }

    var count: Int { sessions.withLock { $0.count } }
}

/// Failed sign-ins, per client address and per actor name: after `allowed`
/// failures in a row, each further try waits 30 s, doubling up to 15 minutes.
/// The failures are kept until a sign-in succeeds, which audits them with its key
/// (a failed sign-in opens no key to write the audit trail with).
final class SignInLimiter: Sendable {
    struct Failure: Sendable {
        var actor: String
        var client: String
        var at: Int64
    }

    private struct State {
        var streaks: [String: (count: Int, last: ContinuousClock.Instant)] = [:]
        var pending: [Failure] = []
    }

    private let allowed: Int
    private let state = Mutex(State())

    init(allowed: Int) { self.allowed = allowed }

    static func keys(client: String, actor: String) -> [String] { ["client:" + client, "actor:" + actor.lowercased()] }

    /// Seconds to wait before another try, if any.
    func wait(client: String, actor: String) -> Int? {
        state.withLock { state in
            Self.keys(client: client, actor: actor).compactMap { key -> Int? in
                guard let streak = state.streaks[key], streak.count >= allowed else { return nil }
                let penalty = min(30 << min(streak.count - allowed, 5), 900)
                let left = penalty - Int((ContinuousClock.now - streak.last).components.seconds)
                return left > 0 ? left : nil
            }.max()
        }
    }

    func failed(client: String, actor: String) {
        state.withLock { state in
            for key in Self.keys(client: client, actor: actor) {
                state.streaks[key] = ((state.streaks[key]?.count ?? 0) + 1, .now)
            }
            if state.pending.count < 1000 { state.pending.append(Failure(actor: String(actor.prefix(64)), client: client, at: EventLog.now())) }
        }
    }

    /// Clears the streaks of this client and actor; returns every failure not audited yet.
    func succeeded(client: String, actor: String) -> [Failure] {
        state.withLock { state in
            for key in Self.keys(client: client, actor: actor) { state.streaks[key] = nil }
            defer { state.pending.removeAll() }
            return state.pending
        }
    }
}
