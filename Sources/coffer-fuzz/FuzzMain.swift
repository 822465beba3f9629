import CofferFuzzTargets
import Foundation

#if COFFER_FUZZING
/// libFuzzer's entry point (built by `scripts/fuzz` with `-sanitize=fuzzer`);
/// the target comes from `COFFER_FUZZ_TARGET`.
let target: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["COFFER_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fatalError("set COFFER_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// libFuzzer's driver, for programs that keep their own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: FuzzCallback) -> CInt

/// SwiftPM links an executable's entry point under the module's name
/// (`coffer_fuzz_main`, aliased to `main`), so libFuzzer's own `main` is not
/// used: this one hands the arguments to libFuzzer's driver.
@_cdecl("coffer_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOne)
}
#else
/// Without the fuzzer: `coffer-fuzz TARGET FILE…` runs inputs through a target
/// (to reproduce a finding in an ordinary build).
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: coffer-fuzz TARGET FILE…  (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))\n".utf8))
            exit(1)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("coffer-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            target.run(Array(data))
        }
        print("ran \(arguments.count - 1) input(s) through \(name)")
    }
}
#endif
