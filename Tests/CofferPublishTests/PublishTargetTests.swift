import CofferPublish
import CofferTestSupport
import Foundation
import Testing

/// What `coffer publish` accepts as a destination and as credentials, without a server.
struct PublishTargetTests {
    @Test("credentials in a URL, non-http schemes and bad names are refused with the reason")
    func refusedTargets() throws {
        let credentials = ClickHouseCredentials()
        #expect(throws: PublishError.self) { try PublishTarget(to: "https://alice:secret@ch.example:8443", credentials: credentials) }
        do {
            _ = try PublishTarget(to: "http://bob:pw@127.0.0.1:8123", credentials: credentials)
        } catch let error as PublishError {
            #expect(error.description.contains("credentials do not go on the command line"))
        }
        #expect(throws: PublishError.self) { try PublishTarget(to: "ftp://127.0.0.1", credentials: credentials) }
        #expect(throws: PublishError.self) { try PublishTarget(to: "127.0.0.1:8123", credentials: credentials) }
        #expect(throws: PublishError.self) { try PublishTarget(to: "http://127.0.0.1:8123", database: "x; DROP", credentials: credentials) }
        #expect(throws: PublishError.noCluster) {
            try PublishTarget(to: "http://127.0.0.1:8123", shards: ["http://127.0.0.1:8124"], cluster: nil, credentials: credentials)
        }
        let https = try PublishTarget(to: "https://ch.example:8443", credentials: credentials)
        #expect(https.shards[0].scheme == "https" && https.cluster == nil)
    }

    @Test("credentials come from a file, else the environment, else ClickHouse's default user")
    func credentialSources() throws {
        let scratch = try ScratchVault("credentials")
        let file = try scratch.file("clickhouse.yaml", "user: publisher\npassword: 'p@ss: word'\n")
        #expect(try ClickHouseCredentials.load(file: file.path, environment: [:]) == ClickHouseCredentials(user: "publisher", password: "p@ss: word"))
        let environment = [ClickHouseCredentials.userVariable: "env-user", ClickHouseCredentials.passwordVariable: "env-secret"]
        #expect(try ClickHouseCredentials.load(file: nil, environment: environment) == ClickHouseCredentials(user: "env-user", password: "env-secret"))
        #expect(try ClickHouseCredentials.load(file: nil, environment: [:]) == ClickHouseCredentials(user: "default", password: ""))
        #expect(throws: PublishError.self) { try ClickHouseCredentials.load(file: scratch.directory.appendingPathComponent("missing").path) }
        let broken = try scratch.file("broken.yaml", "password: only\n")
        #expect(throws: PublishError.self) { try ClickHouseCredentials.load(file: broken.path) }
    }

    @Test("TabSeparated results are unescaped: tabs, newlines, backslashes; NULL stays \\N")
    func tabSeparated() {
        #expect(TabSeparated.unescape(#"a\tb\nc\\d\re"#) == "a\tb\nc\\d\re")
        #expect(TabSeparated.unescape("plain") == "plain")
        #expect(TabSeparated.unescape(#"\N"#) == #"\N"#)
    }
}
