import CCofferZlib
import CofferFormats
import CofferIngest
import Foundation

/// Why a request was refused, as the HTTP answer says it: a status and a
/// reason that quotes nothing of the input.
struct Refusal: Error, Equatable {
    var status: Int
    var reason: String
    /// Seconds to wait before retrying (429).
    var retryAfter: Int? = nil

    static func badRequest(_ reason: String) -> Refusal { Refusal(status: 400, reason: reason) }
    static func tooLarge(_ reason: String) -> Refusal { Refusal(status: 413, reason: reason) }
    static let unauthorized = Refusal(status: 401, reason: "missing, unknown or revoked write key")
}

/// A request body as the Segment Tracking API defines it, checked.
struct RequestBody {
    /// Segment's limits: 32 KB an event (ingest's own limit, which the inbox drain relies on
    /// the collector to have applied), 500 KB a request (after decompression).
    static let maxEventBytes = SegmentParser.maxEventBytes
    static let maxRequestBytes = 500 * 1024

    /// The endpoints, by path component: the full names and analytics.js's short forms.
    static let endpoints: [String: String] = [
        "identify": "identify", "track": "track", "page": "page", "screen": "screen", "group": "group", "alias": "alias",
        "batch": "batch", "import": "import", "i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group",
        "a": "alias", "b": "batch",
    ]

    var endpoint: String
    var bytes: [UInt8]
    var object: JSONObject
    /// Events in the request.
    var events: Int

    /// Checks `bytes` (decompressed) for `endpoint`: a JSON object; for
    /// `batch`/`import` a `batch` array of objects; each event within 32 KB.
    init(endpoint: String, bytes: [UInt8]) throws(Refusal) {
        guard bytes.count <= Self.maxRequestBytes else { throw .tooLarge("request larger than 500 KB") }
        guard let value = try? JSONReader.document(bytes) else { throw .badRequest("the body is not valid JSON") }
        guard let object = value.object else { throw .badRequest("the body must be a JSON object") }
        self.endpoint = endpoint
        self.bytes = bytes
        self.object = object
        if endpoint == "batch" || endpoint == "import" {
            guard case let .array(items)? = object["batch"] else { throw .badRequest("a batch request needs a \"batch\" array") }
            guard !items.isEmpty else { throw .badRequest("the batch is empty") }
            for item in items {
                guard item.object != nil else { throw .badRequest("every item of \"batch\" must be an object") }
                guard CanonicalJSON.data(item).count <= Self.maxEventBytes else { throw .tooLarge("an event is larger than 32 KB") }
            }
            events = items.count
        } else {
            guard bytes.count <= Self.maxEventBytes else { throw .tooLarge("the event is larger than 32 KB") }
            events = 1
        }
    }

    /// The write key given in the body (`writeKey`), if any.
    var writeKey: String? { object["writeKey"]?.string }

    /// The write key of an `Authorization: Basic base64(key:)` header.
    static func basicKey(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8) else { return nil }
        return String(text.prefix { $0 != ":" })
    }

    /// Inflates a gzip body, refusing to produce more than `limit` bytes (a gzip bomb gets 413, not memory).
    static func gunzip(_ input: [UInt8], limit: Int) throws(Refusal) -> [UInt8] {
        var stream = z_stream()
        guard coffer_inflate_init_gzip(&stream) == Z_OK else { throw .badRequest("the gzip body cannot be read") }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status = Z_OK
        var input = input
        let result: Refusal? = input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else { return .badRequest("the gzip body is corrupt") }
                output.append(contentsOf: chunk[..<produced])
                if output.count > limit { return .tooLarge("request larger than 500 KB once decompressed") }
                if status == Z_OK, produced == 0, stream.avail_in == 0 { return .badRequest("the gzip body is truncated") }
            } while status != Z_STREAM_END
            return nil
        }
        if let result { throw result }
        return output
    }
}
