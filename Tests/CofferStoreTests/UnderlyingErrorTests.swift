import CofferCrypto
@testable import CofferStore
import Foundation
import GRDB
import Testing

/// Issue 17: errors keep what went wrong underneath (SQLite's code, errno) as fields, not only as text.
struct UnderlyingErrorTests {
    @Test("a database error keeps SQLite's extended result code and message; a full disk is diskFull")
    func sqliteCodeIsKept() {
        let constraint = VaultError.storage(operation: "appending", error: DatabaseError(resultCode: .SQLITE_CONSTRAINT_UNIQUE, message: "UNIQUE failed"))
        #expect(constraint == .storage(operation: "appending", detail: "UNIQUE failed", sqliteCode: 2067))
        #expect(constraint.description == "database error while appending: UNIQUE failed")
        #expect(VaultError.storage(operation: "x", error: DatabaseError(resultCode: .SQLITE_FULL), path: "/v/vault.sqlite") == .diskFull(path: "/v/vault.sqlite"))
        #expect(VaultError.storage(operation: "x", error: VaultError.lastOwner("o")) == .lastOwner("o"), "a VaultError passes through")
    }

    @Test("a file-system error keeps its errno")
    func errnoIsKept() {
        let missing = VaultError.io(path: "/nowhere", error: POSIXError(.ENOENT))
        guard case let .io(path, _, code) = missing else { Issue.record("not an io error: \(missing)"); return }
        #expect(path == "/nowhere" && code == ENOENT)
        #expect(VaultError.io(path: "/x", errno: EACCES) == .io(path: "/x", detail: String(cString: strerror(EACCES)), errno: EACCES))
    }

    @Test("an error carries its remedy as a field, and its one line ends with it")
    func remedyIsAField() {
        let missing: any CofferError = VaultError.notInitialized(path: "/v")
        #expect(missing.remedy == "create one with `coffer init`, or point --vault / COFFER_VAULT at an existing vault")
        #expect(missing.message == "no vault at /v; " + missing.remedy!)
        let tampered: any CofferError = VaultError.tamperedTable(path: "vault.sqlite", table: "consent_state")
        #expect(tampered.remedy?.contains("coffer verify") == true)
        #expect(tampered.message.hasSuffix(tampered.remedy!))
        // An error whose message already says what to fix has no separate remedy.
        let wrong: any CofferError = VaultError.wrongPassphrase(actor: "owner")
        #expect(wrong.remedy == nil)
        #expect(wrong.message == "wrong passphrase for actor 'owner'; nothing was changed")
        #expect(CryptoError.authenticationFailed.remedy == nil)
    }
}
