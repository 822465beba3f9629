import CofferCrypto
import CofferFormats
package import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Posts an audience as JSON to a destination's URL, signed so the receiver can
/// tell it came from this vault and was not changed or replayed:
/// `X-Coffer-Signature: t=UNIX-SECONDS,v1=HEX(HMAC-SHA256(secret, "t." ‖ body))`,
/// and `Idempotency-Key` set to the export's id, the same on every retry.
/// A network error, a 5xx or a 429 is retried with exponential backoff; any
/// other status is final.
package struct WebhookDelivery: Sendable {
    package var url: URL
    package var secret: [UInt8]
    /// Tries in all (the first and the retries).
    package var attempts = 4
    /// Seconds before the first retry; doubled before each next one.
    package var backoff = 0.5
    package var timeout = 10.0

    package init(url: URL, secret: [UInt8]) {
        self.url = url
        self.secret = secret
    }

    /// What happened: the final status (nil: no answer), and how many tries it took.
    package struct Outcome: Sendable, Equatable {
        package var status: Int?
        package var tries: Int
        package var delivered: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    /// The signature header's value for `body` at `time` (seconds since 1970).
    package static func signature(_ body: [UInt8], secret: [UInt8], time: Int64) throws -> String {
        "t=\(time),v1=" + (try HMACSHA256(key: secret).authenticate(Array("\(time).".utf8) + body)).hexString
    }

    package func send(_ body: [UInt8], idempotencyKey: String) -> Outcome {
        var outcome = Outcome(status: nil, tries: 0)
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        for attempt in 0..<max(attempts, 1) {
            if attempt > 0 { Thread.sleep(forTimeInterval: backoff * pow(2, Double(attempt - 1))) }
            outcome.tries = attempt + 1
            var request = URLRequest(url: url, timeoutInterval: timeout)
            request.httpMethod = "POST"
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
            let now = Int64(Date().timeIntervalSince1970)
            request.setValue((try? Self.signature(body, secret: secret, time: now)) ?? "", forHTTPHeaderField: "X-Coffer-Signature")
            let done = DispatchSemaphore(value: 0)
            let status = StatusBox()
            session.dataTask(with: request) { _, response, _ in
                status.value = (response as? HTTPURLResponse)?.statusCode
                done.signal()
            }.resume()
            done.wait()
            outcome.status = status.value
            guard let code = status.value, code >= 500 || code == 429 else { return outcome }
        }
        return outcome
    }
}

/// The status a completion handler reports, read after it signalled.
private final class StatusBox: @unchecked Sendable {   // written once before the semaphore is signalled, read after the wait
    var value: Int?
}
