import Testing
@testable import GRPO

/// verl's advantage estimators, the naive specification (`VerlAdvantages.advantages`) against
/// the flat one the vectorized path reads (`VerlAdvantages.vectorizedAdvantages`).
@Suite("verl's advantage estimators: naive and vectorized agree")
struct VerlAdvantageAgreementTests {
    /// Random groups of 1-5 completions (binary, graded, all-equal and mostly-zero rewards),
    /// response masks with some tokens (or all) dropped, and 1-3 reward functions.
    func randomInputs(_ rng: inout SeededGenerator) -> (rewards: [[Double]], counted: [[[Bool]]], perFunction: [[[Double]]]) {
        let groups = rng.integer(1, 4)
        let sizes = (0..<groups).map { _ in rng.integer(1, 5) }
        func rewards() -> [[Double]] {
            sizes.map { n in
                switch rng.integer(0, 3) {
                case 0: (0..<n).map { _ in Double(rng.integer(0, 1)) }
                case 1: [Double](repeating: rng.uniform(-2, 2), count: n)
                case 2: (0..<n).map { _ in rng.integer(0, 3) == 0 ? rng.uniform(0, 5) : 0 }
                default: (0..<n).map { _ in rng.uniform(-3, 3) }
                }
            }
        }
        let counted = sizes.map { n in (0..<n).map { _ in (0..<rng.integer(0, 5)).map { _ in rng.integer(0, 4) != 0 } } }
        let functions = rng.integer(0, 3)
        return (rewards(), counted, (0..<functions).map { _ in rewards() })
    }

    @Test("300 random batches per estimator, with and without the std", arguments: VerlAdvantages.Estimator.allCases)
    func agree(estimator: VerlAdvantages.Estimator) {
        var rng = SeededGenerator(seed: 61)
        var computed = 0
        for _ in 0..<300 {
            let (rewards, counted, perFunction) = randomInputs(&rng)
            var options = VerlOptions()
            options.advEstimator = estimator.rawValue
            options.normAdvByStdInGRPO = rng.integer(0, 1) == 0
            if estimator == .gdpo && !perFunction.isEmpty && rng.integer(0, 1) == 0 {
                options.gdpoRewardWeights = perFunction.map { _ in rng.uniform(0, 2) }
            }
            let functions = estimator == .gdpo ? perFunction : []
            let naive: Result<[Double], ConfigError>, flat: Result<[Double], ConfigError>
            do { naive = .success(try VerlAdvantages.advantages(rewards: rewards, counted: counted, perFunction: functions, options: options).flatMap { $0 }) } catch { naive = .failure(error) }
            do { flat = .success(try VerlAdvantages.vectorizedAdvantages(.init(rewards: rewards, counted: counted, perFunction: functions), options: options)) } catch { flat = .failure(error) }
            switch (naive, flat) {
            case let (.success(a), .success(b)):
                computed += 1
                // Held to the size of the terms: rewards up to 5 over a std that may be 1e-6-small.
                let scale = max(1, a.map(abs).filter(\.isFinite).max() ?? 1)
                #expect(a.count == b.count)
                for (x, y) in zip(a, b) {
                    #expect(x == y || abs(x - y) <= 1e-12 * scale || (x.isNaN && y.isNaN), "\(estimator): \(x) vs \(y) for \(rewards)")
                }
            case let (.failure(e), .failure(f)):
                #expect(e.message == f.message)
            default:
                Issue.record("\(estimator): one path refused, the other did not: \(naive) vs \(flat) for \(rewards)")
            }
        }
        #expect(computed > 100, "\(estimator): only \(computed) batches computed")
    }

    /// By hand: one group of three with rewards 1, 0, 0.5 and two loss tokens each.
    ///   mean 0.5, unbiased std sqrt((0.25 + 0.25 + 0) / 2) = 0.5
    ///   grpo: (r - 0.5) / (0.5 + 1e-6) = 0.999998, -0.999998, 0
    ///   rloo: the mean of the others: 1 - 0.25 = 0.75, 0 - 0.75 = -0.75, 0.5 - 0.5 = 0
    ///   grpo_passk: only the best: (1 - 0.5) / (0.5 + 1e-6) = 0.999998, then 0, 0
    @Test("by hand: grpo, rloo and grpo_passk on one group, both implementations")
    func byHand() throws {
        let rewards = [[1.0, 0, 0.5]], counted = [[[true, true], [true, true], [true, true]]]
        let expected: [(String, [Double])] = [("grpo", [0.5 / 0.500001, -0.5 / 0.500001, 0]), ("rloo", [0.75, -0.75, 0]),
                                              ("grpo_passk", [0.5 / 0.500001, 0, 0])]
        for (name, values) in expected {
            var options = VerlOptions()
            options.advEstimator = name
            expectClose(try VerlAdvantages.advantages(rewards: rewards, counted: counted, options: options)[0], values, relative: 1e-12, absolute: 1e-15)
            expectClose(try VerlAdvantages.vectorizedAdvantages(.init(rewards: rewards, counted: counted), options: options), values,
                        relative: 1e-12, absolute: 1e-15)
        }
    }
}
