import CofferPolicy
import CofferCrypto
import CofferStore
import Foundation
import GRDB
import CofferFormats

/// What the last projection build had read: every person's aggregate and the
/// log position it reached, so the next build reads only the events after it.
///
/// Kept in `projections/build-state.enc`, sealed with AES-256-GCM under the
/// vault's build-state key (derived from the master key; no role's keyslot
/// holds it). It is a cache: a missing, damaged or stale file only means a full
/// build. Erasure deletes it, since it holds the erased person's aggregate.
struct BuildState {
    /// Bumped whenever `CustomerAggregate` or its folding changes: an older state is not used.
    /// 3: event names matched without case, gender in one spelling, purchase days kept.
    /// 4: online carts per day, baskets with products, hours and sizes, engagement counts, last times.
    /// 5: the push token.
    static let format: UInt32 = 5
    static let magic = Array("CBS1".utf8)

    var lastSeq: Int64
    /// The chain hash of event `lastSeq`: another log (a restored backup) does not match.
    var lastHash: [UInt8]
    /// The retention cutoffs' day and the policy the aggregates were folded under (`RetentionCutoffs`).
    var cutoffDay: Int64
    var policySHA256: String
    var people: [(key: SubjectID, value: CustomerAggregate)]

    static let fileName = "build-state.enc"

    static func url(_ layout: VaultLayout) -> URL { layout.projections.appendingPathComponent(fileName) }

    private static func associatedData(_ vaultID: [UInt8]) -> [UInt8] {
        Array("coffer/v1/build-state|\(vaultID.hexString)|\(format)".utf8)
    }

    /// The saved state, when it exists, opens, has this format and matches the log; else nil.
    static func load(vault: Vault) throws -> BuildState? {
        guard var plain = try? SealedFile.read(url(vault.layout), magic: magic, key: vault.keys().projectionState(),
                                               authenticating: associatedData(vault.vaultID)) else { return nil }
        defer { plain.wipe() }
        var reader = StateReader(bytes: plain)
        guard let state = try? decode(&reader) else { return nil }
        let hash = try vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [state.lastSeq]).map(Array.init)
        }
        return hash == state.lastHash ? state : nil
    }

    /// Seals and writes the state atomically under `key` (`VaultKeys.projectionState`).
    func save(layout: VaultLayout, vaultID: [UInt8], key: SymmetricKey) throws {
        // Sealed and written a piece at a time as it is encoded: the whole state (~1 KB a person)
        // and its ciphertext were both in memory at once, at the build's peak.
        let file = try SealedFile.Stream(to: Self.url(layout), magic: Self.magic, key: key, authenticating: Self.associatedData(vaultID))
        var writer = StateWriter()
        writer.data.reserveCapacity(SealedFile.Stream.piece + 64 * 1024)
        defer { writer.data.wipe() }
        func flush() throws {
            try writer.data.withUnsafeBytes { try file.write($0) }
            writer.data.wipe()
            writer.data.removeAll(keepingCapacity: true)
        }
        writer.int(lastSeq)
        writer.bytes(lastHash)
        writer.int(cutoffDay)
        writer.bytes(Array(policySHA256.utf8))
        writer.int(Int64(people.count))
        for (subject, aggregate) in people {
            writer.raw(subject.bytes)
            aggregate.encode(into: &writer)
            if writer.data.count >= SealedFile.Stream.piece { try flush() }
        }
        try flush()
        _ = try file.commit()
    }

    private static func decode(_ reader: inout StateReader) throws -> BuildState {
        let lastSeq = try reader.int()
        let lastHash = try reader.bytes()
        let cutoffDay = try reader.int()
        let policySHA256 = String(decoding: try reader.bytes(), as: UTF8.self)
        let count = try reader.int()
        guard count >= 0 else { throw StateReader.Damaged() }
        var people: [(key: SubjectID, value: CustomerAggregate)] = []
        people.reserveCapacity(Int(min(count, 100_000_000)))
        for _ in 0..<count {
            let subject = try reader.subject()
            people.append((subject, try CustomerAggregate(from: &reader)))
        }
        return BuildState(lastSeq: lastSeq, lastHash: lastHash, cutoffDay: cutoffDay, policySHA256: policySHA256, people: people)
    }

    /// Deletes the saved state; `true` if there was one.
    @discardableResult
    static func remove(_ layout: VaultLayout) throws -> Bool {
        let file = url(layout)
        guard FileManager.default.fileExists(atPath: file.path) else { return false }
        do {
            try FileManager.default.removeItem(at: file)
        } catch {
            throw VaultError.io(path: file.path, detail: error.localizedDescription)
        }
        return true
    }
}

/// Little-endian, length-prefixed fields of the build state.
struct StateWriter {
    var data: [UInt8] = []

    mutating func int(_ value: Int64) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    mutating func double(_ value: Double) { int(Int64(bitPattern: value.bitPattern)) }
    mutating func raw(_ bytes: [UInt8]) { data += bytes }
    mutating func bytes(_ bytes: [UInt8]) {
        int(Int64(bytes.count))
        data += bytes
    }
    mutating func string(_ text: String) {
        int(Int64(text.utf8.count))
        data.append(contentsOf: text.utf8)
    }
    mutating func flag(_ present: Bool) { data.append(present ? 1 : 0) }
}

struct StateReader {
    struct Damaged: Error {}
    let data: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { data = bytes }

    mutating func raw(_ count: Int) throws -> [UInt8] {
        guard count >= 0, offset + count <= data.count else { throw Damaged() }
        defer { offset += count }
        return Array(data[offset..<(offset + count)])
    }

    /// A subject id's 16 bytes, read in place.
    mutating func subject() throws -> SubjectID {
        guard offset + SubjectID.byteCount <= data.count else { throw Damaged() }
        defer { offset += SubjectID.byteCount }
        return try data.withUnsafeBytes { try SubjectID(raw: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + SubjectID.byteCount)])) }
    }

    mutating func int() throws -> Int64 {
        guard offset + 8 <= data.count else { throw Damaged() }
        defer { offset += 8 }
        return Int64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int64.self) })
    }

    mutating func double() throws -> Double { Double(bitPattern: UInt64(bitPattern: try int())) }
    mutating func bytes() throws -> [UInt8] { try raw(Int(try int())) }
    mutating func string() throws -> String {
        let count = Int(try int())
        guard count >= 0, offset + count <= data.count else { throw Damaged() }
        defer { offset += count }
        return String(decoding: data[offset..<(offset + count)], as: UTF8.self)
    }
    mutating func flag() throws -> Bool {
        guard offset < data.count else { throw Damaged() }
        defer { offset += 1 }
        return data[offset] == 1
    }
}

extension CustomerAggregate {
    private static func write(_ latest: Latest<String>?, _ writer: inout StateWriter) {
        writer.flag(latest != nil)
        if let latest {
            writer.string(latest.value)
            writer.int(latest.time)
        }
    }

    private static func write(_ latest: Latest<Double>?, _ writer: inout StateWriter) {
        writer.flag(latest != nil)
        if let latest {
            writer.double(latest.value)
            writer.int(latest.time)
        }
    }

    private static func write(_ value: Int64?, _ writer: inout StateWriter) {
        writer.flag(value != nil)
        if let value { writer.int(value) }
    }

    private static func text(_ reader: inout StateReader) throws -> Latest<String>? {
        guard try reader.flag() else { return nil }
        return Latest(value: try reader.string(), time: try reader.int())
    }

    private static func number(_ reader: inout StateReader) throws -> Latest<Double>? {
        guard try reader.flag() else { return nil }
        return Latest(value: try reader.double(), time: try reader.int())
    }

    private static func optional(_ reader: inout StateReader) throws -> Int64? {
        try reader.flag() ? try reader.int() : nil
    }

    /// Every field, in declaration order.
    func encode(into writer: inout StateWriter) {
        for text in [userID, email, phone, firstName, lastName] { Self.write(text, &writer) }
        Self.write(age, &writer)
        for text in [gender, birthday, postcode, city, loyaltyID] { Self.write(text, &writer) }
        Self.write(loyaltyPoints, &writer)
        for count in [purchases, refunds] { writer.int(Int64(count)) }
        writer.double(totalSpend)
        for count in [online, instore] { writer.int(Int64(count)) }
        Self.write(firstShop, &writer)
        Self.write(lastShop, &writer)
        let channelNames = channels.names
        writer.int(Int64(channelNames.count))
        for channel in channelNames { writer.string(channel) }
        for count in [emailsDelivered, emailOpens, emailClicks, events] { writer.int(Int64(count)) }
        writer.int(Int64(purchaseDays.count))
        for purchase in purchaseDays.days {
            writer.int(Int64(purchase.day))
            writer.int(Int64(purchase.carts))
            writer.double(purchase.spend)
            writer.int(Int64(purchase.online))
        }
        detail.encode(into: &writer)
        for count in [engagement.reviews, engagement.rated, engagement.likes, engagement.comments, engagement.shares,
                      engagement.pageViews, engagement.appSessions] { writer.int(Int64(count)) }
        writer.double(engagement.ratingSum)
        for time in lastSeen.all { Self.write(time, &writer) }
        Self.write(deviceToken, &writer)
    }

    init(from reader: inout StateReader) throws {
        self.init()
        userID = try Self.text(&reader)
        email = try Self.text(&reader)
        phone = try Self.text(&reader)
        firstName = try Self.text(&reader)
        lastName = try Self.text(&reader)
        age = try Self.number(&reader)
        gender = try Self.text(&reader)
        birthday = try Self.text(&reader)
        postcode = try Self.text(&reader)
        city = try Self.text(&reader)
        loyaltyID = try Self.text(&reader)
        loyaltyPoints = try Self.number(&reader)
        purchases = Int(try reader.int())
        refunds = Int(try reader.int())
        totalSpend = try reader.double()
        online = Int(try reader.int())
        instore = Int(try reader.int())
        firstShop = try Self.optional(&reader)
        lastShop = try Self.optional(&reader)
        let channelCount = try reader.int()
        guard (0...64).contains(channelCount) else { throw StateReader.Damaged() }
        for _ in 0..<channelCount {
            guard let channel = Channels(name: try reader.string()) else { throw StateReader.Damaged() }
            channels.insert(channel)
        }
        emailsDelivered = Int(try reader.int())
        emailOpens = Int(try reader.int())
        emailClicks = Int(try reader.int())
        events = Int(try reader.int())
        let dayCount = try reader.int()
        guard (0...Int64(purchases)).contains(dayCount) else { throw StateReader.Damaged() }
        var days: [PurchaseDay] = []
        days.reserveCapacity(Int(dayCount))
        for _ in 0..<dayCount {
            let day = try reader.int(), carts = try reader.int()
            guard let day = Int32(exactly: day), let carts = Int32(exactly: carts), carts > 0, day > (days.last?.day ?? .min) else {
                throw StateReader.Damaged()
            }
            let spend = try reader.double()
            guard let online = Int32(exactly: try reader.int()), (0...carts).contains(online) else { throw StateReader.Damaged() }
            days.append(PurchaseDay(day: day, carts: carts, spend: spend, online: online))
        }
        purchaseDays = PurchaseDays(days)
        detail = try PurchaseDetail(from: &reader)
        func count() throws -> Int {
            let value = try reader.int()
            guard value >= 0, let count = Int(exactly: value) else { throw StateReader.Damaged() }
            return count
        }
        engagement = Engagement(reviews: try count(), rated: try count(), ratingSum: 0, likes: try count(), comments: try count(),
                                shares: try count(), pageViews: try count(), appSessions: try count())
        engagement.ratingSum = try reader.double()
        lastSeen = LastSeen(try (0..<7).map { _ in try Self.optional(&reader) })
        deviceToken = try Self.text(&reader)
    }
}

extension PurchaseDetail {
    func encode(into writer: inout StateWriter) {
        writer.int(Int64(baskets.count))
        for basket in baskets {
            writer.int(Int64(basket.day))
            writer.int(Int64(basket.lines.count))
            for line in basket.lines {
                writer.string(line.item)
                writer.flag(line.category != nil)
                if let category = line.category { writer.string(category) }
                writer.double(line.quantity)
                writer.flag(line.amount != nil)
                if let amount = line.amount { writer.double(amount) }
            }
        }
        writer.int(Int64(hours.entries.count))
        for entry in hours.entries {
            writer.int(Int64(entry.key))
            writer.int(Int64(entry.count))
        }
        writer.int(Int64(sizes.entries.count))
        for entry in sizes.entries {
            writer.string(entry.key)
            writer.int(Int64(entry.count))
        }
    }

    init(from reader: inout StateReader) throws {
        self.init()
        func count(_ limit: Int64) throws -> Int {
            let value = try reader.int()
            guard (0...limit).contains(value) else { throw StateReader.Damaged() }
            return Int(value)
        }
        for _ in 0..<(try count(Int64(Self.basketLimit))) {
            guard let day = Int32(exactly: try reader.int()) else { throw StateReader.Damaged() }
            var lines: [Basket.Line] = []
            for _ in 0..<(try count(100_000)) {
                let item = try reader.string()
                let category = try reader.flag() ? try reader.string() : nil
                let quantity = try reader.double()
                let amount = try reader.flag() ? try reader.double() : nil
                lines.append(Basket.Line(item: item, category: category, quantity: quantity, amount: amount))
            }
            add(Basket(day: day, lines: lines))
        }
        for _ in 0..<(try count(168)) {
            guard let hour = UInt8(exactly: try reader.int()), hour < 168, let number = Int32(exactly: try reader.int()) else {
                throw StateReader.Damaged()
            }
            hours.add(hour, number)
        }
        for _ in 0..<(try count(1_000)) {
            let label = try reader.string()
            guard let number = Int32(exactly: try reader.int()) else { throw StateReader.Damaged() }
            sizes.add(label, number)
        }
    }
}
