import CofferCrypto
/// Why an input could not be read at all (as opposed to one bad record,
/// which is quarantined and does not stop the import).
package enum IngestError: CofferError, Equatable {
    case unreadable(path: String, reason: String)
    case unknownFormat(path: String)
    case mappingRequired(path: String)
    case invalidMapping(path: String, reason: String)
    case emptyCSV(path: String)
    case missingColumns(path: String, columns: [String])

    package var description: String { Self.line(parts.problem, remedy: parts.remedy) }

    package var remedy: String? { parts.remedy }

    /// What went wrong, and what to do about it.
    private var parts: (problem: String, remedy: String?) {
        switch self {
        case let .unreadable(path, reason): return ("cannot read \(path): \(reason)", nil)
        case let .unknownFormat(path):
            return ("cannot tell the format of \(path)", "name it .jsonl, .json or .csv, or pass --format")
        case let .mappingRequired(path):
            return ("\(path) is CSV: pass --mapping FILE (e.g. examples/retail-mapping.yaml) to say which column is what", nil)
        case let .invalidMapping(path, reason): return ("mapping \(path): \(reason)", nil)
        case let .emptyCSV(path): return ("\(path) has no header row", nil)
        case let .missingColumns(path, columns):
            return ("\(path) lacks the column(s) the mapping names: \(columns.joined(separator: ", "))", nil)
        }
    }
}
