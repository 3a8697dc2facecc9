import Foundation
import GRPO

extension Checks {
    /// Exercise Loss (lesson 07, all the terms together): TRL's `grpo` loss of a batch,
    ///
    ///     L_it = -min(r_it A_i, clip(r_it, 1 - eps, 1 + eps) A_i) + beta k3_it
    ///     loss = 1/B sum_i 1/|o_i| sum_t L_it
    ///
    /// with A_i from the group's rewards (sample std, epsilon 1e-4), r_it = exp(logp - old_logp),
    /// k3 against ref_logp; and d loss / d logp for every token. Against `Naive.breakdown` with
    /// `loss_type grpo`.
    public static func loss(_ answer: ([[Scalar]], Batch, Double, Double) throws -> Scalar) -> Report {
        var report = Report(.loss)
        var rng = SeededGenerator(seed: 7)
        for k in 0..<40 {
            let batch = randomBatch(&rng)
            let epsilon = [0.2, 0.1, 0.3][k % 3], beta = [0.04, 0, 0.1][k % 3]
            let going = report.attempt { report in
                let leaves = batch.completions.map { $0.logp.map(Scalar.init) }
                let got = try answer(leaves, batch, epsilon, beta)
                got.backward()
                var config = GRPOConfig()
                config.epsilon = epsilon
                config.beta = beta
                let want = try Naive.breakdown(batch, config: config)
                let input = "random batch \(k + 1) (seed 7; \(batch.groups.count) groups of \(batch.groups[0].completions.count)), epsilon \(Report.format(epsilon)), beta \(Report.format(beta))"
                var withoutKL = config
                withoutKL.beta = 0
                let lossWithoutKL = try Naive.breakdown(batch, config: withoutKL).loss
                let noKL = beta != 0 && Report.close(got.value, lossWithoutKL)
                report.compare("the loss", at: input, expected: want.loss, got: got.value,
                               diagnosis: noKL ? "the KL term is missing: + beta k3 in every L_it" : nil)
                for (i, row) in leaves.enumerated() {
                    for (t, leaf) in row.enumerated() where !Report.close(leaf.grad, want.gradLogp[i, t]) {
                        report.compare("d loss / d logp of token (\(i), \(t))", at: input, expected: want.gradLogp[i, t], got: leaf.grad)
                        return
                    }
                }
            }
            if !going { break }
        }
        return report
    }

    /// A batch of 1-3 groups of 2-4 completions, 1-6 tokens each: logp in [-4, -0.05], old_logp
    /// and ref_logp within 0.4 of it (so some ratios are clipped), rewards 0 and 1 or in [0, 1].
    static func randomBatch(_ rng: inout SeededGenerator) -> Batch {
        let g = rng.integer(2, 4)
        let binary = rng.integer(0, 1) == 0
        return Batch(groups: (0..<rng.integer(1, 3)).map { _ in
            Group(completions: (0..<g).map { _ in
                let logp = (0..<rng.integer(1, 6)).map { _ in -rng.uniform(0.05, 4) }
                return Completion(reward: binary ? Double(rng.integer(0, 1)) : rng.uniform(0, 1), logp: logp,
                                  oldLogp: logp.map { $0 + rng.uniform(-0.4, 0.4) }, refLogp: logp.map { $0 + rng.uniform(-0.4, 0.4) })
            })
        })
    }
}

/// The checks, one per exercise: each takes the answer (a function) and reports what differs from
/// the project's naive path.
public enum Checks {}
