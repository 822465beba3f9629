#if canImport(Glibc)
import Glibc
#endif

/// The special functions the purchase models need.
package enum SpecialFunctions {
    /// ln Γ(x) for x > 0 (the C library's reentrant `lgamma_r`, which sets no global sign).
    package static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
    package static func logBeta(_ a: Double, _ b: Double) -> Double {
        logGamma(a) + logGamma(b) - logGamma(a + b)
    }

    /// ln(eˣ + eʸ) without overflow.
    package static func logAddExp(_ x: Double, _ y: Double) -> Double {
        let high = max(x, y), low = min(x, y)
        guard high > -.infinity else { return -.infinity }
        return high + log1p(exp(low - high))
    }

    /// Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its power
    /// series Σ (a)ₙ(b)ₙ / ((c)ₙ n!) zⁿ, summed until a term no longer changes the
    /// sum in the 16th digit. The BG/NBD forecast calls it with z = t / (α + T + t),
    /// below 1 for any horizon; the terms shrink like zⁿ n^(a+b−c−1), so z = 0.9 takes
    /// a few hundred of them. nil when z is outside [0, 1) or c is not positive.
    package static func hypergeometric2F1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double? {
        guard (0..<1).contains(z), c > 0 else { return nil }
        var term = 1.0, sum = 1.0
        for n in 0..<1_000_000 {
            let n = Double(n)
            term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
            sum += term
            if abs(term) <= 1e-16 * abs(sum) { return sum }
        }
        return nil
    }
}
