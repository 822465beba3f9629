import ArgumentParser
import CofferDashboard
import CofferStore
import Foundation
import Logging

/// `coffer dashboard`
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "A local web dashboard: each role's pages and charts, after signing in with an actor's passphrase.",
        discussion: """
            Open http://127.0.0.1:8090 and sign in as an actor. The server starts with no key: a sign-in \
            unlocks that actor's keyslot for the session only, and sign-out or --idle-timeout minutes \
            unused drop the keys. Analysts and marketers see their projections (overview, segments, RFM and \
            value, cohorts, purchase hours, product affinity); compliance the request register, consent \
            rates, erasures and retention; auditors the audit trail, integrity and denials; the owner all. \
            Cells of fewer people than the policy's minimum group size are withheld; every page view and \
            CSV download is an audit entry. Pages carry no script and load nothing from elsewhere \
            (Content-Security-Policy: default-src 'none'). Stops on SIGTERM or SIGINT.
            """
    )

    @OptionGroup var options: VaultOptions

    @Option(help: ArgumentHelp("Where to listen (keep it on this machine: it is plain HTTP).", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:8090"

    @Option(help: ArgumentHelp("Minutes a session may stay unused before it ends and its keys are dropped.", valueName: "MIN"))
    var idleTimeout = 15

    func validate() throws {
        guard let colon = listen.lastIndex(of: ":"), !listen[..<colon].isEmpty, let port = Int(listen[listen.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 127.0.0.1:8090")
        }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
    }

    func run() throws {
        let colon = listen.lastIndex(of: ":")!
        var configuration = DashboardServer.Configuration()
        configuration.host = String(listen[..<colon])
        configuration.port = Int(listen[listen.index(after: colon)...])!
        configuration.idleTimeout = .seconds(idleTimeout * 60)
        var logger = Logger(label: "coffer.dashboard")
        logger.logLevel = .warning
        let server = try DashboardServer(layout: options.layout, policy: try options.policy(), configuration: configuration, logger: logger)
        let host = configuration.host
        try AsyncBridge.wait {
            try await server.run { port in Terminal.note("coffer dashboard: listening on http://\(host):\(port)") }
        }
    }
}
