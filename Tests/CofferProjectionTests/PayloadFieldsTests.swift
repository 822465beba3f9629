import CofferCrypto
import CofferDemo
import CofferIngest
import CofferPolicy
@testable import CofferProjection
import CofferStore
import Foundation
import GRDB
import Testing
import CofferFormats
import CofferTestSupport

struct PayloadFieldsTests {
    @Test func testTheFieldScannerReadsOnlyWhatTheSingleViewNeeds() throws {
        let text = #"{"context":{"channel":"web","page":{"path":"/x","tags":["a",{"b":"}"}]},"traits":{"email":"a@b.c"}},"# +
            #""event":"Order Completed","properties":{"channel":"in-store","items":[{"sku":"x\"y"}],"revenue":12.5},"# +
            #""timestamp":"2026-01-01T00:00:00.000Z","traits":{"age":41,"nested":{"email":"wrong"},"firstName":"A\u00e9"},"userId":"u1"}"#
        let fields = try #require(PayloadFields.scan(Array(text.utf8)))
        #expect(fields.event == "Order Completed")
        #expect(fields.time == Timestamp.parse("2026-01-01T00:00:00.000Z"))
        #expect(fields.userID == "u1")
        #expect(fields.contextChannel == "web")
        #expect(fields.traits.named == ["email": .text("a@b.c"), "age": .number(41), "firstName": .text("Aé")])
        #expect(fields.properties.named == ["channel": .text("in-store"), "revenue": .number(12.5)])
        #expect(PayloadFields.scan(Array("[1,2]".utf8)) == nil)
        #expect(PayloadFields.scan(Array(#"{"event":"x""#.utf8)) == nil)
    }

    @Test("products[]: each line's name (else product_id, else sku), category, price and quantity; odd shapes are skipped, broken ones refused")
    func products() throws {
        let text = #"{"event":"Order Completed","properties":{"products":[{"name":"Flat White","category":"coffee","price":3.4,"quantity":2},"# +
            #"{"product_id":42,"price":"2.5"},{"sku":"B\"1","extra":{"name":"not this"}},{"category":"no id"},7,"x",[{"name":"nested"}],{}],"revenue":9}}"#
        let fields = try #require(PayloadFields.scan(Array(text.utf8)))
        #expect(fields.products == [.init(item: "Flat White", category: "coffee", price: 3.4, quantity: 2),
                                    .init(item: "42", category: nil, price: 2.5, quantity: nil),
                                    .init(item: "B\"1", category: nil, price: nil, quantity: nil)])
        #expect(fields.properties[.revenue] == .number(9), "the properties after products are still read")
        #expect(try #require(PayloadFields.scan(Array(#"{"properties":{"products":{"name":"x"},"revenue":1}}"#.utf8))).products.isEmpty)
        #expect(try #require(PayloadFields.scan(Array(#"{"properties":{"products":[],"revenue":1}}"#.utf8))).properties[.revenue] == .number(1))
        for broken in [#"{"properties":{"products":[{"name":"x"}"#, #"{"properties":{"products":[}]}}"#, #"{"properties":{"products":[{"name":"x"} {"name":"y"}]}}"#] {
            #expect(PayloadFields.scan(Array(broken.utf8)) == nil, "\(broken)")
        }
    }

    @Test func testStringsAndNumbersDecodeAsJSONSaysAndMalformedPayloadsAreRefused() throws {
        let text = #"{"traits":{"age":3e2,"loyaltyPoints":-2.5,"city":"x\"y\\z\u00e9\ud83d\ude00","postcode":"","#
            + #""email":true,"gender":null,"zip":0.1}}"#
        let fields = try #require(PayloadFields.scan(Array(text.utf8)))
        #expect(fields.traits["age"] == .number(300))
        #expect(fields.traits["loyaltyPoints"] == .number(-2.5))
        #expect(fields.traits["city"] == .text("x\"y\\zé😀"))
        #expect(fields.traits["postcode"] == .text(""))
        #expect(fields.traits["zip"]?.double == 0.1)
        #expect(fields.traits["email"] == nil, "booleans are not kept")
        #expect(fields.traits["gender"] == nil, "null is not kept")
        // Keys are matched as bytes; one with escapes is decoded first.
        let escaped = try #require(PayloadFields.scan(Array(#"{"traits":{"first\u005fname":"Bo","emai":"x","emails":"y"},"\u0065vent":"E","timestamp":"2026-01-01T00:00:00\u002e250Z"}"#.utf8)))
        #expect(escaped.traits.named == ["first_name": .text("Bo")])
        #expect(escaped.event == "E")
        #expect(escaped.time == Timestamp.parse("2026-01-01T00:00:00.250Z"))
        for bad in ["{", #"{"event":"x""#, "[1]", #"{"traits":{"age":1}"#, #"{"event":"unterminated}"#] {
            #expect(PayloadFields.scan(Array(bad.utf8)) == nil, "\(bad)")
        }
    }
}
