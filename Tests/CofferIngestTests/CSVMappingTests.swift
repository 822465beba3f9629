@testable import CofferIngest
import CofferFormats
import Testing

/// Issue 19, item 1: a CSV mapping's IANA zone (each local time gets the offset in force on its date) and value maps.
struct CSVMappingTests {
    /// The UTC time a CSV row's local `time` becomes under `zone`.
    static func utc(_ time: String, zone: String) -> String? {
        let mapping = CSVMapping(type: "track", event: "Order Completed", fields: ["userId": "id", "timestamp": "time"], timezone: zone)
        guard case let .success(event) = mapping.event(from: ["id": "c1", "time": time]) else { return nil }
        return event["timestamp"]?.string
    }

    @Test("Europe/London: GMT before the clocks go forward, BST after, and back again in October")
    func london() {
        #expect(Self.utc("2026-03-28 12:00:00", zone: "Europe/London") == "2026-03-28T12:00:00.000Z")   // GMT, +00:00
        #expect(Self.utc("2026-03-29 00:30:00", zone: "Europe/London") == "2026-03-29T00:30:00.000Z")   // before 01:00 GMT
        #expect(Self.utc("2026-03-29 03:00:00", zone: "Europe/London") == "2026-03-29T02:00:00.000Z")   // BST, +01:00
        #expect(Self.utc("2026-07-01 09:15:00", zone: "Europe/London") == "2026-07-01T08:15:00.000Z")
        #expect(Self.utc("2026-10-25 00:30:00", zone: "Europe/London") == "2026-10-24T23:30:00.000Z")   // still BST
        #expect(Self.utc("2026-10-25 02:30:00", zone: "Europe/London") == "2026-10-25T02:30:00.000Z")   // GMT again
    }

    @Test("a time that occurs twice is its first occurrence; a skipped time takes the offset before the change")
    func ambiguousAndSkipped() {
        // 01:30 on 25 October happens in BST (00:30Z) and again in GMT (01:30Z).
        #expect(Self.utc("2026-10-25 01:30:00", zone: "Europe/London") == "2026-10-25T00:30:00.000Z")
        // 01:30 on 29 March never happens in London (01:00 GMT became 02:00 BST): read as GMT.
        #expect(Self.utc("2026-03-29 01:30:00", zone: "Europe/London") == "2026-03-29T01:30:00.000Z")
        // New York, the other side of the Atlantic and of the calendar: EST −05:00, then EDT −04:00 from 8 March.
        #expect(Self.utc("2026-03-07 10:00:00", zone: "America/New_York") == "2026-03-07T15:00:00.000Z")
        #expect(Self.utc("2026-03-09 10:00:00", zone: "America/New_York") == "2026-03-09T14:00:00.000Z")
    }

    @Test("a time with its own offset keeps it; fixed offsets still work")
    func ownOffsetAndFixed() {
        #expect(Self.utc("2026-07-01T09:15:00+02:00", zone: "Europe/London") == "2026-07-01T07:15:00.000Z")
        #expect(Self.utc("2026-07-01 09:15:00", zone: "+02:00") == "2026-07-01T07:15:00.000Z")
        #expect(Self.utc("2026-07-01 09:15:00", zone: "UTC") == "2026-07-01T09:15:00.000Z")
        #expect(LocalZone("CET") == nil && LocalZone("Europe/Nowhere") == nil && LocalZone("Europe/Paris") != nil)
    }

    @Test("a mapping's value maps rename a column's values before use (F → female, S → small); others are kept")
    func valueMaps() throws {
        let mapping = CSVMapping(type: "track", event: "Order Completed", fields: ["userId": "id"],
                                 traits: ["gender": "sex"], properties: ["cart_size": "size", "spending": "spent"], numbers: ["spent"],
                                 values: ["sex": ["F": "female", "M": "male"], "size": ["S": "small", "M": "medium", "L": "large"]])
        guard case let .success(event) = mapping.event(from: ["id": "c1", "sex": "F", "size": "L", "spent": "4.50"]) else {
            Issue.record("the row did not map")
            return
        }
        #expect(event["traits"]?.object?["gender"]?.string == "female")
        #expect(event["properties"]?.object?["cart_size"]?.string == "large", "kept as a category, not a number")
        #expect(event["properties"]?.object?["spending"] == .number(JSONNumber(4.5)!), "a number, as the mapping says")
        guard case let .success(other) = mapping.event(from: ["id": "c2", "sex": "X", "size": "XL", "spent": "1"]) else {
            Issue.record("the row did not map")
            return
        }
        #expect(other["traits"]?.object?["gender"]?.string == "X" && other["properties"]?.object?["cart_size"]?.string == "XL")
    }
}

/// Issue 19, item 1: a till's own date format and its default channel.
struct CSVMappingFormatTests {
    static func event(_ row: [String: String], format: String?, zone: String = "Europe/London", channel: String? = nil) -> JSONObject? {
        let mapping = CSVMapping(type: "track", event: "Order Completed", fields: ["userId": "id", "timestamp": "time"],
                                 properties: ["spending": "spent"], timezone: zone, dateFormat: format, defaultChannel: channel)
        guard case let .success(event) = mapping.event(from: row) else { return nil }
        return event
    }

    @Test("date_format reads day-first times in the mapping's zone, summer time included; a row that does not match is refused")
    func dateFormat() {
        let format = "%d/%m/%Y %H:%M"
        #expect(Self.event(["id": "c", "time": "28/03/2026 12:00"], format: format)?["timestamp"]?.string == "2026-03-28T12:00:00.000Z")
        #expect(Self.event(["id": "c", "time": "1/7/2026 9:15"], format: format)?["timestamp"]?.string == "2026-07-01T08:15:00.000Z")
        #expect(Self.event(["id": "c", "time": "07.01.26"], format: "%d.%m.%y", zone: "+01:00")?["timestamp"]?.string
            == "2026-01-06T23:00:00.000Z")
        for bad in ["2026-03-28 12:00", "31/02/2026 10:00", "28/03/2026 25:00", "28/03/2026 12:00 extra"] {
            #expect(Self.event(["id": "c", "time": bad], format: format) == nil, "\(bad)")
        }
        #expect(DateFormat("%H:%M") == nil && DateFormat("%d/%m/%Y %Q") == nil && DateFormat("%Y-%m-%d") != nil)
    }

    @Test("default_channel fills properties.channel for rows without one, and leaves the others")
    func defaultChannel() {
        let filled = Self.event(["id": "c", "time": "2026-03-28 12:00:00", "spent": "3"], format: nil, channel: "in-store")
        #expect(filled?["properties"]?.object?["channel"]?.string == "in-store")
        let mapping = CSVMapping(type: "track", event: "Order Completed", fields: ["userId": "id"],
                                 properties: ["channel": "where"], defaultChannel: "in-store")
        guard case let .success(online) = mapping.event(from: ["id": "c", "where": "online"]) else {
            Issue.record("the row did not map")
            return
        }
        #expect(online["properties"]?.object?["channel"]?.string == "online")
    }
}
