import Foundation
import Yams
import CofferStore
import CofferFormats

/// How the columns of a CSV file become Segment events, read from a small YAML file.
///
/// ```yaml
/// type: track                 # identify | track | page | screen | group
/// event: Order Completed      # for track
/// fields:                     # Segment field: CSV column
///   userId: customer_id
///   messageId: cart_id
///   timestamp: time_shop
/// traits: { age: customer_age, gender: customer_gender }
/// properties: { cart_size: cart_size, spending: spending }
/// numbers: [customer_age, spending]   # columns that must be numbers
/// values:                     # a column's values renamed before use (others kept)
///   customer_gender: { F: female, M: male }
/// timezone: Europe/London     # for timestamps without a zone: +HH:MM, Z, or an IANA zone (summer time applied)
/// date_format: "%d/%m/%Y %H:%M"   # when timestamps are not ISO-8601 (strptime's %Y %y %m %d %H %M %S)
/// default_channel: in-store   # properties.channel of rows that give none (a till file)
/// line_items:                 # one row per product: consecutive rows of a cart are one event
///   group_by: cart_id         #   with products[] (Segment's e-commerce spec)
///   name: item_name
///   product_id: sku
///   category: category
///   price: unit_price
///   quantity: qty
/// delimiter: ","
/// ```
package struct CSVMapping: Codable, Sendable, Equatable {
    package var type: String
    package var event: String?
    package var fields: [String: String]
    package var traits: [String: String]?
    package var properties: [String: String]?
    package var numbers: [String]?
    /// Per column, values renamed before use (`F: female`); values not listed are kept as read.
    package var values: [String: [String: String]]?
    package var timezone: String?
    package var delimiter: String?
    /// How timestamps are written when they are not ISO-8601 (see `DateFormat`).
    package var dateFormat: String?
    /// `properties.channel` for rows that give none, e.g. `in-store` for a till's file.
    package var defaultChannel: String?
    /// A file of one row per product: which column groups rows into one purchase, and
    /// which columns describe the product (`properties.products[]`).
    package var lineItems: LineItems?

    /// The columns of a line-item file: rows with the same `group_by` value, one after
    /// the other, are one event whose `products` lists one entry per row.
    package struct LineItems: Codable, Sendable, Equatable {
        package var groupBy: String
        package var name: String?
        package var productID: String?
        package var sku: String?
        package var category: String?
        package var price: String?
        package var quantity: String?

        enum CodingKeys: String, CodingKey {
            case groupBy = "group_by"
            case productID = "product_id"
            case name, sku, category, price, quantity
        }

        package init(groupBy: String, name: String? = nil, productID: String? = nil, sku: String? = nil, category: String? = nil,
                     price: String? = nil, quantity: String? = nil) {
            self.groupBy = groupBy
            self.name = name
            self.productID = productID
            self.sku = sku
            self.category = category
            self.price = price
            self.quantity = quantity
        }

        /// Product key → column, for the columns given.
        var columns: [(key: String, column: String)] {
            [("name", name), ("product_id", productID), ("sku", sku), ("category", category), ("price", price), ("quantity", quantity)]
                .compactMap { key, column in column.map { (key, $0) } }
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, event, fields, traits, properties, numbers, values, timezone, delimiter
        case dateFormat = "date_format"
        case defaultChannel = "default_channel"
        case lineItems = "line_items"
    }

    package init(type: String, event: String? = nil, fields: [String: String], traits: [String: String]? = nil,
                properties: [String: String]? = nil, numbers: [String]? = nil, values: [String: [String: String]]? = nil,
                timezone: String? = nil, delimiter: String? = nil, dateFormat: String? = nil, defaultChannel: String? = nil,
                lineItems: LineItems? = nil) {
        self.type = type
        self.event = event
        self.fields = fields
        self.traits = traits
        self.properties = properties
        self.numbers = numbers
        self.values = values
        self.timezone = timezone
        self.delimiter = delimiter
        self.dateFormat = dateFormat
        self.defaultChannel = defaultChannel
        self.lineItems = lineItems
    }

    static let allowedFields: Set<String> = ["userId", "anonymousId", "messageId", "timestamp", "sentAt", "event", "name", "groupId", "previousId"]

    /// Loads and checks a mapping file; errors name the file and what is wrong.
    package static func load(path: String) throws -> CSVMapping {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw IngestError.invalidMapping(path: path, reason: "cannot read the file")
        }
        let mapping: CSVMapping
        do {
            mapping = try YAMLDecoder().decode(CSVMapping.self, from: text)
        } catch let error as YamlError {
            throw IngestError.invalidMapping(path: path, reason: "not valid YAML: \(error)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw IngestError.invalidMapping(path: path, reason: "missing required key '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw IngestError.invalidMapping(path: path, reason: "wrong value type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw IngestError.invalidMapping(path: path, reason: "\(error)")
        }
        try mapping.validate(path: path)
        return mapping
    }

    func validate(path: String) throws {
        guard SegmentParser.types[type.lowercased()] != nil, type.lowercased() != "alias" else {
            throw IngestError.invalidMapping(path: path, reason: "type must be identify, track, page, screen or group")
        }
        if let unknown = fields.keys.first(where: { !Self.allowedFields.contains($0) }) {
            throw IngestError.invalidMapping(path: path, reason: "unknown Segment field '\(unknown)' under fields; "
                + "use one of \(Self.allowedFields.sorted().joined(separator: ", "))")
        }
        guard fields["userId"] != nil || fields["anonymousId"] != nil else {
            throw IngestError.invalidMapping(path: path, reason: "fields must map userId or anonymousId to a column")
        }
        if let timezone, LocalZone(timezone) == nil {
            throw IngestError.invalidMapping(path: path, reason: "timezone '\(timezone)' is neither an offset (+HH:MM, Z) "
                + "nor a known IANA zone (e.g. Europe/London)")
        }
        if let unread = values?.keys.first(where: { !columns.contains($0) }) {
            throw IngestError.invalidMapping(path: path, reason: "values: column '\(unread)' is not read by any field, trait or property")
        }
        if let dateFormat, DateFormat(dateFormat) == nil {
            throw IngestError.invalidMapping(path: path, reason: "date_format '\(dateFormat)' needs a year, a month and a day, "
                + "and knows %Y %y %m %d %H %M %S and %%")
        }
        if let lineItems {
            guard lineItems.name != nil || lineItems.productID != nil || lineItems.sku != nil else {
                throw IngestError.invalidMapping(path: path, reason: "line_items needs a name, product_id or sku column to say which product a row is")
            }
            guard type.lowercased() == "track" else {
                throw IngestError.invalidMapping(path: path, reason: "line_items are for track events (a purchase such as Order Completed)")
            }
        }
        if let delimiter, delimiter.utf8.count != 1 {
            throw IngestError.invalidMapping(path: path, reason: "delimiter must be one character")
        }
    }

    /// Every column the mapping reads.
    package var columns: Set<String> {
        Set(fields.values).union(traits?.values ?? [:].values).union(properties?.values ?? [:].values)
            .union(lineItems.map { [$0.groupBy] + $0.columns.map(\.column) } ?? [])
    }

    var delimiterByte: UInt8 { delimiter?.utf8.first ?? UInt8(ascii: ",") }

    /// The zone of the file's local times (UTC when none is given).
    var zone: LocalZone { timezone.flatMap(LocalZone.init) ?? .fixed(minutes: 0) }

    /// Turns one row (by header name) into a Segment event dictionary; `zone` is the
    /// mapping's (resolved once per file by the caller, or here).
    func event(from row: [String: String], zone: LocalZone? = nil) -> Result<JSONObject, Rejection> {
        let zone = zone ?? self.zone
        var event = JSONObject()
        event["type"] = .string(type.lowercased())
        if let name = self.event { event["event"] = .string(name) }
        func value(_ column: String) -> Result<JSONValue?, Rejection> {
            guard let read = row[column], !read.isEmpty else { return .success(nil) }
            let text = values?[column]?[read] ?? read
            if numbers?.contains(column) == true {
                guard let number = Double(text.trimmedWhitespace).flatMap(JSONNumber.init) else {
                    return .failure(Rejection("wrong type: column \(column) must be a number"))
                }
                return .success(.number(number))
            }
            return .success(.string(text))
        }
        for (field, column) in fields {
            switch value(column) {
            case let .failure(rejection): return .failure(rejection)
            case let .success(v?):
                if field == "timestamp" || field == "sentAt", let text = v.string {
                    let format = dateFormat.flatMap(DateFormat.init)
                    guard let millis = format.map({ $0.local(text).map(zone.instant) }) ?? zone.parse(text) else {
                        return .failure(Rejection(format == nil ? "bad timestamp: column \(column) is not an ISO-8601 date and time"
                                                                : "bad timestamp: column \(column) does not match the mapping's date_format"))
                    }
                    event[field] = .string(Timestamp.format(millis))
                } else if field == "userId" || field == "anonymousId" || field == "messageId", case let .number(number) = v {
                    event[field] = .string(number.text)
                } else {
                    event[field] = v
                }
            case .success(nil): continue
            }
        }
        for (target, map) in [("traits", traits), ("properties", properties)] {
            guard let map else { continue }
            var object = JSONObject()
            for (key, column) in map {
                switch value(column) {
                case let .failure(rejection): return .failure(rejection)
                case let .success(v?): object[key] = v
                case .success(nil): continue
                }
            }
            event[target] = .object(object)
        }
        if let defaultChannel, event["properties"]?.object?["channel"] == nil {
            var properties = event["properties"]?.object ?? JSONObject()
            properties["channel"] = .string(defaultChannel)
            event["properties"] = .object(properties)
        }
        return .success(event)
    }

    /// Turns the rows of one cart of a line-item file into one event: the first
    /// row gives the event's fields, traits and properties, every row one entry of
    /// `properties.products`; `revenue` is the sum of price × quantity unless the
    /// mapping reads it from a column.
    func event(fromLineItems rows: [[String: String]], zone: LocalZone? = nil) -> Result<JSONObject, Rejection> {
        guard let lineItems, let first = rows.first else { return .failure(Rejection("no rows in the cart")) }
        var event: JSONObject
        switch self.event(from: first, zone: zone) {
        case let .success(built): event = built
        case let .failure(rejection): return .failure(rejection)
        }
        var products: [JSONValue] = [], revenue = 0.0, priced = false
        for (index, row) in rows.enumerated() {
            var product = JSONObject()
            var price: Double?, quantity = 1.0
            for (key, column) in lineItems.columns {
                guard let read = row[column]?.trimmedWhitespace, !read.isEmpty else { continue }
                if key == "price" || key == "quantity" {
                    guard let number = Double(read), number.isFinite, let value = JSONNumber(number) else {
                        return .failure(Rejection("wrong type: column \(column) must be a number (row \(index + 1) of the cart)"))
                    }
                    product[key] = .number(value)
                    if key == "price" { price = number } else { quantity = number }
                } else {
                    product[key] = .string(values?[column]?[read] ?? read)
                }
            }
            guard product["name"] != nil || product["product_id"] != nil || product["sku"] != nil else {
                return .failure(Rejection("row \(index + 1) of the cart names no product (its name, product_id or sku column is empty)"))
            }
            if let price {
                revenue += price * quantity
                priced = true
            }
            products.append(.object(product))
        }
        var properties = event["properties"]?.object ?? JSONObject()
        properties["products"] = .array(products)
        if priced, properties["revenue"] == nil, properties["spending"] == nil, properties["total"] == nil,
           let total = JSONNumber((revenue * 100).rounded() / 100) {
            properties["revenue"] = .number(total)
        }
        event["properties"] = .object(properties)
        return .success(event)
    }
}
