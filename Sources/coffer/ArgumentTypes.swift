public import ArgumentParser
import CofferIngest
import CofferPolicy
import CofferStore

// Options whose values are one of a library enum's cases are parsed into it by
// ArgumentParser, which lists the allowed values in --help and in its error.

extension Role: ExpressibleByArgument {}

extension ActivationSettings.Channel: ExpressibleByArgument {}

extension ActivationSettings.Format: ExpressibleByArgument {}

extension Action: ExpressibleByArgument {}

extension EventSource.Kind: ExpressibleByArgument {}

extension InputFormat: ExpressibleByArgument {
    /// `jsonl`, `json` or `csv`, in any case.
    package init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
