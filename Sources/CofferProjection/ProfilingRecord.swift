package import CofferPolicy
package import CofferStore
import Foundation

/// What the last build's analysis says about one person, file by file: their
/// RFM scores and segment, the purchase models' forecasts, churn band and
/// recommendations, with the models' parameters and the build's time. The
/// export gives it to the person (GDPR Art. 15(1)(h): profiling and its logic).
package struct ProfilingRecord: Sendable {
    package var purpose: String
    package var role: Role
    package var builtAt: String?
    /// Column → value, the analysis columns the file holds for the person (nulls left out).
    package var values: [(String, Cell)]
    /// The fitted models as the file records them (`bgnbd`, `gamma_gamma`).
    package var models: [(String, String)]

    /// The person's analysis in every projection file the vault can open that holds their row.
    package static func load(customerKey key: String, vault: Vault, policy: Policy) throws -> [ProfilingRecord] {
        var records: [ProfilingRecord] = []
        for file in try ProjectionPurge.customerIDs(of: key, vault: vault, policy: policy) {
            guard let id = file.id, let inspector = try? ProjectionInspector(vault: vault, purpose: file.purpose, role: file.role) else { continue }
            let present = Set(try inspector.rows(sql: "SELECT name FROM columns").map { $0[0].description })
            let columns = SingleViewColumn.analysisNames.filter(present.contains)
            guard !columns.isEmpty else { continue }
            let quoted = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            let escaped = id.replacingOccurrences(of: "'", with: "''")
            guard let row = try inspector.rows(sql: "SELECT \(quoted) FROM single_view WHERE customer_id = '\(escaped)'").first else { continue }
            let info = Dictionary(try inspector.rows(sql: "SELECT key, value FROM projection_info").map { ($0[0].description, $0[1].description) },
                                  uniquingKeysWith: { first, _ in first })
            records.append(ProfilingRecord(purpose: file.purpose, role: file.role, builtAt: info["built_at"],
                                           values: zip(columns, row).filter { $0.1 != .null }.map { ($0.0, $0.1) },
                                           models: ["bgnbd", "gamma_gamma"].compactMap { name in info[name].map { (name, $0) } }))
        }
        return records
    }
}
