import CofferPublish
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `coffer publish --to https://…` against a ClickHouse server that serves
/// TLS with a certificate from a CA made for the test: refused, with the
/// remedy, while this machine does not trust that CA; published when it does
/// (the CA put in place of the system's bundle for the one process, in a
/// private mount namespace: nothing on the machine changes).
struct PublishTLSTests {
    /// A CA, and a certificate it signed for 127.0.0.1 (`openssl`, which scripts/test installs when missing).
    struct Certificates {
        let directory: URL
        var ca: String { directory.appendingPathComponent("ca.pem").path }
        var files: LocalClickHouse.TLSFiles {
            LocalClickHouse.TLSFiles(certificate: directory.appendingPathComponent("server.pem").path,
                                     key: directory.appendingPathComponent("server.key").path)
        }

        init(in directory: URL) throws {
            self.directory = directory
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data("subjectAltName=IP:127.0.0.1\n".utf8).write(to: directory.appendingPathComponent("names.cnf"))
            for step in [
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Coffer test CA"],
                ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                 "-days", "2", "-extfile", "names.cnf"],
            ] {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
                process.arguments = step
                process.currentDirectoryURL = directory
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else { throw LocalClickHouse.Failure("openssl \(step[0]) failed") }
            }
        }
    }

    /// Root, with `unshare`: a process can be given its own view of /etc/ssl/certs.
    static let canTrustPrivately = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")

    /// The system's CA bundle, which libcurl (under Foundation's URLSession) reads.
    static let bundle = "/etc/ssl/certs/ca-certificates.crt"

    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    /// A vault with a built marketing projection, a server serving TLS with the test CA's certificate, and
    /// the arguments that publish to it over `https://`.
    struct Setup {
        var coffer: CofferProcess
        let certificates: Certificates
        let servers: LocalClickHouse
        var arguments: [String] { ["publish", "--vault", coffer.vault, "--to", servers.servers[0].httpsURL, "--purpose", "marketing", "--database", "tls"] }

        init() throws {
            coffer = try CofferProcess()
            certificates = try Certificates(in: coffer.directory.appendingPathComponent("tls"))
            servers = try LocalClickHouse(count: 1, tls: certificates.files)
            coffer.environment[ClickHouseCredentials.userVariable] = LocalClickHouse.user
            coffer.environment[ClickHouseCredentials.passwordVariable] = LocalClickHouse.password
            #expect(try coffer.run(["demo", "--vault", coffer.vault, "--customers", "150"]).status == 0)
            #expect(try coffer.run(["project", "build", "--vault", coffer.vault, "--purpose", "marketing"]).status == 0)
        }
    }

    @Test("https with a certificate this machine does not trust: refused with the remedy, nothing sent",
          .enabled(if: hasOpenSSL, "needs /usr/bin/openssl (scripts/test installs it)"))
    func untrustedRefused() throws {
        let setup = try Setup()
        defer { setup.coffer.cleanup() }
        let refused = try setup.coffer.run(setup.arguments)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("TLS connection") && refused.stderr.contains("update-ca-certificates"), "\(refused.stderr)")
        #expect(try setup.servers.client(0).integer("EXISTS TABLE tls.marketing_single_view") == 0)
    }

    @Test("https with a certificate from a CA the machine trusts: published",
          .enabled(if: hasOpenSSL && canTrustPrivately, "needs /usr/bin/openssl, root and unshare (CI has them)"))
    func trustedPublishes() throws {
        let setup = try Setup()
        defer { setup.coffer.cleanup() }
        // The test CA as the system bundle, for this one process only.
        let trusting = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                        "mount --bind \"$0\" \(Self.bundle) && exec \"$@\"", setup.certificates.ca]
        let published = try setup.coffer.run(setup.arguments, launcher: trusting)
        #expect(published.status == 0, "\(published.stderr)")
        let people = try #require(published.stdout.firstMatch(of: /: (\d+) people/).flatMap { Int($0.1) })
        #expect(people > 50)
        #expect(try setup.servers.client(0).integer("SELECT count() FROM tls.marketing_single_view") == people)
    }
}
