import CofferCrypto
import CofferFormats

/// A data subject's random 128-bit identifier.
///
/// It carries no information about the person: identifiers such as an email
/// are linked to it only through keyed tokens.
public struct SubjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Length in bytes.
    public static let byteCount = 16

    /// The 16 bytes, held inline as two words in memory order: a subject id is
    /// made for every event read or written, and an array per id was a heap
    /// allocation each time.
    private let head: UInt64, tail: UInt64

    public init(bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try SubjectID(raw: $0) }
    }

    /// Reads the id from raw bytes (e.g. a column SQLite hands out) without copying them first.
    public init(raw: UnsafeRawBufferPointer) throws {
        guard raw.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "subject id", expected: Self.byteCount, actual: raw.count)
        }
        head = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        tail = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(head)
        hasher.combine(tail)
    }

    /// The hash sets and dictionaries use, mixed from the first word with a
    /// SplitMix64 finaliser instead of SipHash: a build looks a subject up two
    /// or three times per event read, and SipHash's set-up was a tenth of the
    /// read. Ids are CSPRNG output the vault made, never chosen by input, so a
    /// keyed hash buys no flooding resistance here; the per-table `seed` still
    /// varies the layout between tables.
    public func _rawHashValue(seed: Int) -> Int {
        var z = head ^ UInt64(truncatingIfNeeded: seed)
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return Int(truncatingIfNeeded: z ^ (z >> 31))
    }

    /// The raw bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the 16 raw bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: (head, tail)) { try body($0) }
    }

    /// The first two bytes, as a number (spreads people evenly over shares: ids are random).
    public var leadingBits: Int {
        withUnsafeBytes { Int($0[0]) << 8 | Int($0[1]) }
    }

    /// Byte order (as the database sorts the ids), without copying the bytes out.
    public static func < (lhs: SubjectID, rhs: SubjectID) -> Bool {
        // Loaded in memory order, the words compare as bytes once read big-endian.
        let (a, b) = (UInt64(bigEndian: lhs.head), UInt64(bigEndian: rhs.head))
        return a != b ? a < b : UInt64(bigEndian: lhs.tail) < UInt64(bigEndian: rhs.tail)
    }

    /// A fresh random id.
    public static func random() throws -> SubjectID {
        try SubjectID(bytes: SecureRandom.bytes(byteCount))
    }

    /// Parses 32 hex digits (as `hex` prints them); nil otherwise.
    public init?(hex: String) {
        guard hex.count == 2 * Self.byteCount, let bytes = [UInt8](hexString: hex), let id = try? SubjectID(bytes: bytes) else { return nil }
        self = id
    }

    /// Lower-case hex, 32 characters.
    public var hex: String { bytes.hexString }

    public var description: String { hex }
}
