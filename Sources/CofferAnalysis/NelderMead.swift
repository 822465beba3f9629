#if canImport(Glibc)
import Glibc
#endif

/// Minimises a function of a few variables without derivatives (Nelder & Mead 1965,
/// with the standard coefficients: reflection 1, expansion 2, contraction ½, shrink ½).
/// The purchase models fit their log-parameters with it: unconstrained, and robust
/// where the likelihood is flat.
package struct NelderMead {
    /// Where the search stopped.
    package struct Result: Sendable {
        package var point: [Double]
        package var value: Double
        package var iterations: Int
        /// Whether the simplex shrank below the tolerances before the iteration limit.
        package var converged: Bool
    }

    /// Stop when the values at the simplex's vertices differ by less than this…
    package var valueTolerance = 1e-10
    /// …and its vertices lie this close to the best one, in every coordinate.
    package var pointTolerance = 1e-8
    package var maxIterations = 20_000
    /// The first simplex: `start`, and `start` moved by this step along each axis.
    package var initialStep = 0.5

    package init() {}

    /// The minimum of `f` near `start`. Non-finite values count as +∞, so a
    /// function may refuse points outside its domain that way.
    package func minimise(_ start: [Double], _ f: ([Double]) -> Double) -> Result {
        let n = start.count
        func value(_ point: [Double]) -> Double {
            let v = f(point)
            return v.isFinite ? v : .infinity
        }
        var simplex = [start] + (0..<n).map { axis in
            var vertex = start
            vertex[axis] += initialStep
            return vertex
        }
        var values = simplex.map(value)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            let spread = (1...n).map { vertex in (0..<n).map { abs(simplex[vertex][$0] - simplex[0][$0]) }.max() ?? 0 }.max() ?? 0
            if abs(values[n] - values[0]) <= valueTolerance * (abs(values[0]) + valueTolerance), spread <= pointTolerance {
                return Result(point: simplex[0], value: values[0], iterations: iterations, converged: true)
            }
            let centroid = (0..<n).map { axis in simplex[0..<n].reduce(0) { $0 + $1[axis] } / Double(n) }
            func along(_ factor: Double) -> [Double] {
                (0..<n).map { centroid[$0] + factor * (simplex[n][$0] - centroid[$0]) }
            }
            let reflected = along(-1), reflectedValue = value(reflected)
            if reflectedValue < values[0] {
                let expanded = along(-2), expandedValue = value(expanded)
                (simplex[n], values[n]) = expandedValue < reflectedValue ? (expanded, expandedValue) : (reflected, reflectedValue)
            } else if reflectedValue < values[n - 1] {
                (simplex[n], values[n]) = (reflected, reflectedValue)
            } else {
                let outside = reflectedValue < values[n]
                let contracted = along(outside ? -0.5 : 0.5), contractedValue = value(contracted)
                if contractedValue < (outside ? reflectedValue : values[n]) {
                    (simplex[n], values[n]) = (contracted, contractedValue)
                } else {
                    for vertex in 1...n {
                        simplex[vertex] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[vertex][$0] - simplex[0][$0]) }
                        values[vertex] = value(simplex[vertex])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] } ?? 0
        return Result(point: simplex[best], value: values[best], iterations: iterations, converged: false)
    }
}

/// Parameters fitted by maximum likelihood: the model, the log-likelihood it
/// reaches, and how the search ended.
package struct ModelFit<Model: Sendable>: Sendable {
    package var model: Model
    package var logLikelihood: Double
    package var iterations: Int
    package var converged: Bool
    /// Whether a parameter ended at the search's bound (`parameterBound`): the data
    /// put the maximum at a limit (no drop-out seen, or spend that never varies), and
    /// the model holds the limit's ratio, not meaningful values of that parameter.
    package var atBound: Bool

    /// Parameters are searched between 1/bound and bound: beyond, the likelihood of
    /// degenerate data keeps rising towards a limit and the search would never stop.
    package static var parameterBound: Double { 1e6 }

    /// Maximises `logLikelihood` over `parameters` positive parameters, searched
    /// over their logarithms (so they stay positive) from all ones, within
    /// 1/`parameterBound` … `parameterBound`.
    static func maximise(parameters: Int, model make: ([Double]) -> Model, logLikelihood: (Model) -> Double) -> ModelFit {
        let bound = log(parameterBound)
        let result = NelderMead().minimise(Array(repeating: 0, count: parameters)) { logs in
            logs.contains { abs($0) > bound } ? .infinity : -logLikelihood(make(logs.map { exp($0) }))
        }
        return ModelFit(model: make(result.point.map { exp($0) }), logLikelihood: -result.value,
                        iterations: result.iterations, converged: result.converged,
                        atBound: result.point.contains { abs($0) > bound - 0.1 })
    }
}
