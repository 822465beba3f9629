import Foundation

/// A chart's data, as the table beside it and as its CSV download: column
/// headers and rows of already-formatted cells. A cell withheld under the
/// minimum group size reads "< k" in both.
package struct DataTable: Sendable, Equatable {
    package var columns: [String]
    package var rows: [[String]]

    package init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The table as HTML (escaped), numbers right-aligned.
    package func html(caption: String) -> String {
        var out = "<table><caption>\(HTML.escape(caption))</caption><thead><tr>"
        for column in columns { out += "<th scope=\"col\">\(HTML.escape(column))</th>" }
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for cell in row {
                out += Double(cell) != nil ? "<td class=\"n\">\(HTML.escape(cell))</td>" : "<td>\(HTML.escape(cell))</td>"
            }
            out += "</tr>"
        }
        if rows.isEmpty { out += "<tr><td colspan=\"\(max(columns.count, 1))\">no data</td></tr>" }
        return out + "</tbody></table>"
    }

    /// RFC 4180 CSV; a cell that a spreadsheet would run as a formula (=, +, -, @) is prefixed with '.
    package var csv: String {
        ([columns] + rows).map { row in row.map(Self.field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func field(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@".contains(first), Double(text) == nil { text = "'" + text }
        return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}

/// Escaping for HTML text and attribute values.
package enum HTML {
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
