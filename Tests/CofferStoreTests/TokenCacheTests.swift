import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing
import CofferTestSupport

/// Issue 22: the identity graph's token → subject cache (`TokenCache`).
struct TokenCacheTests {
    @Test("a link remembered in a transaction that rolls back is forgotten: the identifier makes a subject again")
    func rollbackForgets() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let graph = try vault.identityGraph()
        let identifier = try #require(Identifier(type: .email, raw: "cached@example.com"))
        struct Abort: Error {}
        var doomed: SubjectID?
        #expect(throws: Abort.self) {
            try vault.database.write { db in
                let first = try graph.resolve([identifier], at: 1, in: db)
                // Found in the database (the link above) and remembered.
                let second = try graph.resolve([identifier], at: 2, in: db)
                #expect(first.created && !second.created && second.subject == first.subject)
                #expect(graph.tokens.count == 1)
                doomed = first.subject
                throw Abort()
            }
        }
        let again = try vault.database.write { try graph.resolve([identifier], at: 3, in: $0) }
        #expect(again.created, "the rolled-back subject came back from the cache")
        #expect(again.subject != doomed)
        #expect(try vault.database.read { try graph.subject(for: identifier, in: $0) } == again.subject)
    }

    @Test("an event hasher on another thread gives the graph's tokens and the dedup index's keys, and its tokens resolve as the graph's own")
    func hasherMatches() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let graph = try vault.identityGraph()
        let dedup = try vault.dedupIndex()
        let identifiers = try [Identifier(type: .email, raw: "Hash@Example.com"), Identifier(type: .userID, raw: "u-9"),
                               Identifier(type: .anonymousID, raw: "anon")].map { try #require($0) }
        let hasher = try EventHasher(dedupIndex: dedup, identities: graph)
        // Worked out on a thread of its own, as an ingest's parsing thread does.
        let box = UnsafeTransfer((hasher, identifiers))
        let result = ResultBox()
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) {
            let (hasher, identifiers) = box.value
            result.value = Result {
                (try identifiers.map(hasher.token),
                 [try hasher.dedupKey(messageID: "m-1", content: [], occurredAt: 86_400_000 * 3 + 5),
                  try hasher.dedupKey(messageID: nil, content: Array("payload".utf8), occurredAt: nil)])
            }
        }
        done.wait()
        let (tokens, keys) = try #require(result.value).get()
        #expect(tokens == (try identifiers.map(graph.token)))
        #expect(Set(tokens).count == 3)
        #expect(keys == [try dedup.key(messageID: "m-1", content: [], occurredAt: 86_400_000 * 3 + 5),
                         try dedup.key(messageID: nil, content: Array("payload".utf8), occurredAt: nil)])
        #expect(keys[0].day == 3 && keys[1].day == nil)
        let first = try vault.database.write { try graph.resolve(identifiers, tokens: tokens, at: 1, in: $0) }
        let second = try vault.database.write { try graph.resolve([identifiers[1]], at: 2, in: $0) }
        #expect(first.created && !second.created && second.subject == first.subject)
    }

    @Test("the cache is used within write transactions only and fills as tokens are found")
    func fillsInWrites() throws {
        let temp = try TemporaryVault()
        let vault = try temp.create()
        let graph = try vault.identityGraph()
        let identifiers = try (0..<5).map { try #require(Identifier(type: .userID, raw: "user-\($0)")) }
        try vault.database.write { db in for id in identifiers { _ = try graph.resolve([id], at: 1, in: db) } }
        #expect(graph.tokens.count == 0, "new links are not remembered until found")
        _ = try vault.database.read { db in try identifiers.map { try graph.subject(for: $0, in: db) } }
        #expect(graph.tokens.count == 0, "reads do not fill the cache")
        try vault.database.write { db in for id in identifiers { _ = try graph.resolve([id], at: 2, in: db) } }
        #expect(graph.tokens.count == 5)
    }
}

/// What the other thread worked out, read after it is done.
private final class ResultBox: @unchecked Sendable {
    var value: Result<([[UInt8]], [DedupKey]), any Error>?
}

/// Hands a value that is not `Sendable` to one other thread, which alone uses it.
private struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
