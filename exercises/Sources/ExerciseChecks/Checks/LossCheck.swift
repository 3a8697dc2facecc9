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
        // Lesson 01's batch (lessons/data/01-two-answers.json), beta 0, on-policy: A = +-0.7070,
        // every r = 1, so the loss is 1/2 (-0.7070 + 0.7070) = 0 and d loss / d logp = -w A with
        // w = 1/(B |o_i|): -0.25 x 0.7070 = -0.1768 (answer 0's two tokens), +0.7070 / 6 = +0.1178
        // (answer 1's three).
        let lessonBatch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-0.5, -1.0], oldLogp: [-0.5, -1.0], refLogp: [-0.5, -1.0]),
            Completion(reward: 0, logp: [-0.2, -0.7, -1.2], oldLogp: [-0.2, -0.7, -1.2], refLogp: [-0.2, -0.7, -1.2]),
        ])])
        var rng = SeededGenerator(seed: 7)
        for k in -1..<40 {
            let batch = k < 0 ? lessonBatch : randomBatch(&rng)
            let epsilon = k < 0 ? 0.2 : [0.2, 0.1, 0.3][k % 3], beta = k < 0 ? 0 : [0.04, 0, 0.1][k % 3]
            let going = report.attempt { report in
                let leaves = batch.completions.map { $0.logp.map(Scalar.init) }
                let got = try answer(leaves, batch, epsilon, beta)
                got.backward()
                // The check's options as a batch file states them over the REPL's default preset.
                var config = Preset.deepseekmath.config
                config.lossType = .grpo
                config.epsilon = epsilon
                config.beta = beta
                let want = try Naive.breakdown(batch, config: config)
                let name = k < 0 ? "lesson 01's batch" : "random batch \(k + 1)"
                var input = "\(name) (\(batch.groups.count) group(s) of \(batch.groups[0].completions.count))"
                let differs = !Report.close(got.value, want.loss)
                    || leaves.enumerated().contains { i, row in row.enumerated().contains { t, leaf in !Report.close(leaf.grad, want.gradLogp[i, t]) } }
                if differs {
                    // Only a batch the answer gets wrong is written, for the learner to explain.
                    let file = BatchFileWriter.write(batch, epsilon: epsilon, beta: beta, name: k < 0 ? "lesson01" : "random\(k + 1)")
                    input += file.map { " (written to \($0): 'grpo-repl explain' it)" } ?? ""
                }
                report.compare("the loss", at: input, expected: want.loss, got: got.value,
                               mistakes: try lossMistakes(batch, config: config, loss: want.loss))
                for (i, row) in leaves.enumerated() {
                    for (t, leaf) in row.enumerated() where !Report.close(leaf.grad, want.gradLogp[i, t]) {
                        report.compareGradient("d loss / d logp of token (\(i), \(t))", at: input, expected: want.gradLogp[i, t], got: leaf.grad)
                        return
                    }
                }
            }
            if !going { break }
        }
        return report
    }

    /// The whole loss as the usual mistakes compute it (the loss is linear in beta, so the KL's
    /// sign flipped is 2 x the loss without KL minus the loss).
    static func lossMistakes(_ batch: Batch, config: GRPOConfig, loss: Double) throws -> [(String, Double)] {
        var withoutKL = config
        withoutKL.beta = 0
        let noKL = try Naive.breakdown(batch, config: withoutKL).loss
        var population = config
        population.stdEstimator = .population
        let oneGroup = Batch(groups: [Group(completions: batch.completions)])
        var mistakes = [
            ("the sign of the whole loss: loss = -objective, so L_it = -min(...) + beta k3", -loss),
            ("advantages over the whole batch: each group's rewards are normalized on their own", try Naive.breakdown(oneGroup, config: config).loss),
            ("the population std: groupAdvantages takes .sample here", try Naive.breakdown(batch, config: population).loss),
        ]
        if config.beta != 0 {
            mistakes += [("the KL term is missing: + beta k3 in every L_it", noKL),
                         ("the KL term's sign: it is added to the loss, + beta k3", 2 * noKL - loss)]
        }
        return mistakes
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
