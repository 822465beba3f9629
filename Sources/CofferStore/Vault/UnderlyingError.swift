import Foundation
import GRDB

extension VaultError {
    /// A database failure while doing `operation`, keeping SQLite's result code
    /// and message apart (a full disk becomes `diskFull`).
    package static func storage(operation: String, error: any Error, path: String = VaultLayout.databaseName) -> VaultError {
        if let error = error as? VaultError { return error }
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL { return .diskFull(path: path) }
            return .storage(operation: operation, detail: error.message ?? "\(error)", sqliteCode: error.extendedResultCode.rawValue)
        }
        return .storage(operation: operation, detail: "\(error)")
    }

    /// A file-system failure at `path`, keeping the errno of a POSIX or Cocoa error.
    package static func io(path: String, error: any Error) -> VaultError {
        if let error = error as? VaultError { return error }
        let underlying = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map { Int32(truncatingIfNeeded: $0.code) }
        return .io(path: path, detail: (error as NSError).localizedDescription,
                   errno: (error as? POSIXError).map { $0.code.rawValue } ?? underlying)
    }

    /// The current `errno` as a file-system failure at `path`.
    package static func io(path: String, errno code: Int32 = Foundation.errno) -> VaultError {
        .io(path: path, detail: String(cString: strerror(code)), errno: code)
    }
}
