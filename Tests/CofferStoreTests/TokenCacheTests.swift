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
