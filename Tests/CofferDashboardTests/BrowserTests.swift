import CofferDashboard
import CofferFormats
import CofferProjection
import CofferStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import CofferTestSupport

/// Headless Chromium driven over WebDriver (chromedriver's W3C HTTP API, spoken directly).
final class Browser: @unchecked Sendable {
    let driver: Process
    let base: String
    var session = ""
    static let element = "element-6066-11e4-a52e-4f735466cecf"

    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") && FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")
    }

    init() async throws {
        let port = Int.random(in: 20_000..<40_000)
        driver = Process()
        driver.executableURL = URL(fileURLWithPath: "/usr/bin/chromedriver")
        driver.arguments = ["--port=\(port)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        base = "http://127.0.0.1:\(port)"
        for _ in 0..<100 {
            if (try? await call("GET", "/status")) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let chrome: [String: Any] = ["binary": FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") ? "/usr/bin/chromium" : "",
                                     "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                              "--window-size=1400,1000", "--no-first-run", "--disable-extensions"]]
        let answer = try await call("POST", "/session", ["capabilities": ["alwaysMatch": [
            "browserName": "chrome", "goog:chromeOptions": chrome, "goog:loggingPrefs": ["performance": "ALL"]]]])
        session = ((answer["value"] as? [String: Any])?["sessionId"] as? String) ?? ""
    }

    func quit() async {
        _ = try? await call("DELETE", "/session/\(session)")
        driver.terminate()
        // Not waitUntilExit: off the main thread it spins the run loop at full CPU.
        for _ in 0..<50 where driver.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
    }

    /// One WebDriver command. Through curl: chromedriver writes headers without a space after the
    /// colon ("Content-Length:918"), which FoundationNetworking refuses ("Failed writing header").
    /// curl runs on a GCD thread, never on the concurrency pool: the dashboard server answering the
    /// browser needs that pool's (two, on two cores) threads while the command waits.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var arguments = ["-sS", "--max-time", "60", "-X", method, base + path]
        if let body {
            arguments += ["-H", "Content-Type: application/json", "--data-binary",
                          String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let data = try await Self.curl(arguments)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        if let value = object["value"] as? [String: Any], let error = value["error"] as? String {
            throw NSError(domain: "webdriver", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(error): \(value["message"] ?? "")"])
        }
        return object
    }

    static func curl(_ arguments: [String]) async throws -> Data {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                curl.arguments = arguments
                let pipe = Pipe()
                curl.standardOutput = pipe
                curl.standardError = FileHandle.nullDevice
                do {
                    try curl.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                while curl.isRunning { usleep(1000) }
                if curl.terminationStatus == 0 {
                    continuation.resume(returning: data)
                } else {
                    continuation.resume(throwing: NSError(domain: "webdriver", code: Int(curl.terminationStatus),
                                                          userInfo: [NSLocalizedDescriptionKey: "curl \(arguments.dropFirst(4).prefix(2)) failed"]))
                }
            }
        }
    }

    func open(_ url: String) async throws { try await call("POST", "/session/\(session)/url", ["url": url]) }

    func find(_ css: String) async throws -> String {
        let answer = try await call("POST", "/session/\(session)/element", ["using": "css selector", "value": css])
        return ((answer["value"] as? [String: Any])?[Self.element] as? String) ?? ""
    }

    func type(_ css: String, _ text: String) async throws {
        try await call("POST", "/session/\(session)/element/\(try await find(css))/value", ["text": text])
    }

    func click(_ css: String) async throws { try await call("POST", "/session/\(session)/element/\(try await find(css))/click", [:]) }

    func source() async throws -> String { (try await call("GET", "/session/\(session)/source"))["value"] as? String ?? "" }

    func text(_ css: String) async throws -> String {
        ((try await call("GET", "/session/\(session)/element/\(try await find(css))/text"))["value"] as? String) ?? ""
    }

    func cookies() async throws -> [[String: Any]] { (try await call("GET", "/session/\(session)/cookie"))["value"] as? [[String: Any]] ?? [] }

    /// A PNG of the whole page (the window grown to the page's height first).
    func screenshot(to url: URL) async throws {
        try await call("POST", "/session/\(session)/window/rect", ["width": 1400, "height": 2600])
        let answer = try await call("GET", "/session/\(session)/screenshot")
        guard let base64 = answer["value"] as? String, let png = Data(base64Encoded: base64) else { return }
        try png.write(to: url)
        try await call("POST", "/session/\(session)/window/rect", ["width": 1400, "height": 1000])
    }

    /// Every URL the browser requested since the last call (Chrome's performance log).
    func requests() async throws -> [String] {
        let answer = try await call("POST", "/session/\(session)/se/log", ["type": "performance"])
        return (answer["value"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let text = entry["message"] as? String,
                  let message = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["message"] as? [String: Any],
                  message["method"] as? String == "Network.requestWillBeSent",
                  let request = (message["params"] as? [String: Any])?["request"] as? [String: Any] else { return nil }
            return request["url"] as? String
        }
    }
}

/// Issue 21: the dashboard in a real browser, signed in as each role.
@Suite(.serialized, .enabled(if: Browser.available, "needs chromium and chromium-driver (scripts/test installs them)"))
struct BrowserTests {
    static let output = ScratchVault.repository.appendingPathComponent(".build/test-output/dashboard")

    @Test("each role signs in, opens each of its pages (numbers as analyst SQL gives them), is refused the others, signs out; nothing is fetched from off the machine")
    func everyRole() async throws {
        let fixture = try await DashboardFixture.make()
        let running = try await RunningDashboard(fixture)
        let browser = try await Browser()
        try FileManager.default.createDirectory(at: Self.output, withIntermediateDirectories: true)
        let home = "http://127.0.0.1:\(running.port)"
        do {
            for actor in ["ana", "mia", "dpo", "aud", "owner"] {
                let vault = try fixture.unlock(actor)
                try await browser.open(home + "/signin")
                try await browser.type("#actor", actor)
                try await browser.type("#passphrase", DashboardFixture.passphrase(actor))
                try await browser.click("button[type=submit]")
                // The sign-in's answer sets the cookie: on a loaded machine the click returns before it is in.
                var cookie: [String: Any]?
                for _ in 0..<50 where cookie == nil {
                    cookie = try await browser.cookies().first { $0["name"] as? String == "coffer_session" }
                    if cookie == nil { try await Task.sleep(nanoseconds: 100_000_000) }
                }
                #expect(cookie?["httpOnly"] as? Bool == true && cookie?["sameSite"] as? String == "Strict", "\(actor)")
                for page in DashboardPage.allCases {
                    FileHandle.standardError.write(Data("browser: \(actor) \(page)\n".utf8))
                    try await browser.open(home + "/p/\(page.rawValue)")
                    let source = try await browser.source()
                    if page.roles.contains(vault.role) {
                        #expect(source.contains("<h1>\(HTML.escape(page.title))</h1>"), "\(actor) \(page)")
                        try await browser.screenshot(to: Self.output.appendingPathComponent("\(actor)-\(page.rawValue).png"))
                    } else {
                        #expect(source.contains("<h1>Forbidden</h1>"), "\(actor) must not see \(page)")
                    }
                }
                if [.analyst, .marketing].contains(vault.role) {
                    // The headline figure, as shown, against the same count in analyst SQL.
                    try await browser.open(home + "/p/overview")
                    let shown = try await browser.text(".figure b")
                    let purpose = vault.role == .analyst ? "analytics" : "marketing"
                    let reader = try ProjectionReader(vault: vault, policy: fixture.policy, purpose: purpose, action: .query)
                    #expect(shown == (try reader.query("SELECT count(*) FROM single_view").rows[0][0].description), "\(actor)")
                }
                try await browser.open(home + "/p/\(DashboardPage.pages(for: vault.role)[0].rawValue)")
                try await browser.click(".who button[type=submit]")
                try await browser.open(home + "/p/\(DashboardPage.pages(for: vault.role)[0].rawValue)")
                #expect(try await browser.source().contains("name=\"passphrase\""), "\(actor): signed out, the session is dead")
                #expect(running.server.openSessions == 0)
            }
            let requested = try await browser.requests()
            #expect(requested.count > 40)
            let off = requested.filter { !$0.hasPrefix(home + "/") && !$0.hasPrefix("data:") }
            #expect(off.isEmpty, "requests off the machine: \(off)")
        } catch {
            Issue.record(error)
        }
        await browser.quit()
        await running.stop()
    }
}
