// GRPO in one file: the whole training loop, top to bottom, on a policy small enough to print.
//
//     swift run grpo-in-one-file [ITERATIONS]        (default 60)
//
// The task: copy a three-letter prompt ("bca") and stop. The policy is a table of logits, one
// row per (prompt, position), over the tokens a, b, c and <eos>. Every iteration samples G
// answers per prompt from theta_old, scores them, turns the rewards into group-relative
// advantages, and makes mu updates of TRL's `grpo` loss:
//
//     L_it = -min(r_it A_i, clip(r_it, 1 - eps, 1 + eps) A_i) + beta k3_it,   r_it = pi_theta / pi_old
//     loss = 1/B sum_i 1/|o_i| sum_t L_it
//
// The loss terms are the library's naive path (`Naive.tokenRatio`, `Naive.clippedSurrogate`,
// `Naive.klPenalty`, each a lesson); `Scalar` differentiates the loss with respect to each
// token's log-prob, and the softmax's own rule carries that to the logits. The REPL's tiny
// policy (Sources/TinyPolicy) is this loop, split into steps you can stop at.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

// MARK: The task and its reward

let tokens = ["a", "b", "c", "<eos>"]
let eos = 3
let prompts: [[Int]] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
let maxLength = 4

/// The share of the prompt's three letters the answer copies in place, once it has stopped.
func reward(prompt: [Int], answer: [Int]) -> Double {
    guard answer.last == eos else { return 0 }
    return Double((0..<3).filter { $0 < answer.count && answer[$0] == prompt[$0] }.count) / 3
}

// MARK: The policy: logits[prompt][position][token]

typealias Logits = [[[Double]]]

func softmax(_ row: [Double]) -> [Double] {
    let top = row.max()!
    let e = row.map { exp($0 - top) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
}

/// An answer sampled token by token until <eos> or the length limit.
func sample(_ theta: Logits, prompt q: Int, _ rng: inout SeededGenerator) -> [Int] {
    var answer: [Int] = []
    while answer.count < maxLength && answer.last != eos {
        let p = softmax(theta[q][answer.count])
        var u = rng.uniform(), v = 0
        while v < p.count - 1 && u >= p[v] { u -= p[v]; v += 1 }
        answer.append(v)
    }
    return answer
}

/// log pi(o_t | q, t) for every token of an answer.
func logProbs(_ theta: Logits, prompt q: Int, answer: [Int]) -> [Double] {
    answer.indices.map { t in log(softmax(theta[q][t])[answer[t]]) }
}

/// `x` with `decimals` digits after the point, and `text` flush right in `width` columns.
func fixed(_ x: Double, _ decimals: Int) -> String {
    let scale = pow(10, Double(decimals)), r = (abs(x) * scale).rounded()
    let whole = Int(r / scale), part = Int(r.truncatingRemainder(dividingBy: scale))
    let digits = String(part), padding = String(repeating: "0", count: decimals - digits.count)
    return (x < 0 && r > 0 ? "-" : "") + "\(whole)." + padding + digits
}
func column(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

// MARK: Settings (TRL's names)

var config = GRPOConfig()            // loss_type grpo, epsilon 0.2, beta 0.04, kl_estimator k3
let numGenerations = 8               // G
let promptsPerIteration = 4
let numIterations = 2                // mu: updates per batch
let learningRate = 0.05
let iterations = CommandLine.arguments.dropFirst().first.flatMap { Int($0) }.map { max(1, min($0, 100_000)) } ?? 60

var rng = SeededGenerator(seed: 0)
var theta: Logits = Array(repeating: Array(repeating: Array(repeating: 0, count: tokens.count), count: maxLength), count: prompts.count)
let reference = theta                // theta_ref: the KL term's anchor, the uniform start
var adamM = theta.map { $0.map { $0.map { _ in 0.0 } } }, adamV = adamM, adamSteps = 0

print(column("iteration", 9) + column("update", 8) + column("loss", 11) + column("mean reward", 13) + column("|d loss / d theta|", 20))
for iteration in 1...iterations {
    // 1. Sample G answers per prompt from theta_old, and score them.
    let old = theta
    let chosen = (0..<promptsPerIteration).map { _ in rng.integer(0, prompts.count - 1) }
    let answers = chosen.map { q in (0..<numGenerations).map { _ in sample(old, prompt: q, &rng) } }
    let rewards = zip(chosen, answers).map { q, group in group.map { reward(prompt: prompts[q], answer: $0) } }

    // 2. Group-relative advantages: (r - mean) / (std + eps), within each prompt's group (lesson 02).
    let advantages = Naive.advantages(rewards: rewards.map { $0.map { Optional($0) } }, config: config).advantages

    // 3. old_logp and ref_logp, once per batch.
    let oldLogp = zip(chosen, answers).map { q, group in group.map { logProbs(old, prompt: q, answer: $0) } }
    let refLogp = zip(chosen, answers).map { q, group in group.map { logProbs(reference, prompt: q, answer: $0) } }

    for update in 1...numIterations {
        // 4. The loss, with logp as the leaves to differentiate (lessons 01-07).
        var leaves: [[[Scalar]]] = []
        var total = Scalar(0)
        let b = Double(promptsPerIteration * numGenerations)
        for (g, q) in chosen.enumerated() {
            var groupLeaves: [[Scalar]] = []
            for (i, answer) in answers[g].enumerated() {
                let logp = logProbs(theta, prompt: q, answer: answer).map(Scalar.init)
                groupLeaves.append(logp)
                for t in answer.indices {
                    let ratio = Naive.tokenRatio(logp: logp[t], oldLogp: oldLogp[g][i][t], config: config)
                    let surrogate = Naive.clippedSurrogate(ratio: ratio, advantage: advantages[g][i], config: config)
                    let perToken = -surrogate + Naive.klPenalty(logp: logp[t], refLogp: refLogp[g][i][t], config: config) * config.beta
                    total = total + perToken * (1 / (b * Double(answer.count)))
                }
            }
            leaves.append(groupLeaves)
        }
        total.backward()

        // 5. d loss / d logits: d logp_t / d logit_v = [v == o_t] - p_v (the softmax's rule).
        var gradient = theta.map { $0.map { $0.map { _ in 0.0 } } }
        for (g, q) in chosen.enumerated() {
            for (i, answer) in answers[g].enumerated() {
                for t in answer.indices {
                    let p = softmax(theta[q][t])
                    for v in tokens.indices {
                        gradient[q][t][v] += leaves[g][i][t].grad * ((v == answer[t] ? 1 : 0) - p[v])
                    }
                }
            }
        }

        // 6. One Adam step (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected).
        adamSteps += 1
        let c1 = 1 - pow(0.9, Double(adamSteps)), c2 = 1 - pow(0.999, Double(adamSteps))
        var norm = 0.0
        for q in theta.indices {
            for t in theta[q].indices {
                for v in theta[q][t].indices {
                    let d = gradient[q][t][v]
                    norm += d * d
                    adamM[q][t][v] = 0.9 * adamM[q][t][v] + 0.1 * d
                    adamV[q][t][v] = 0.999 * adamV[q][t][v] + 0.001 * d * d
                    theta[q][t][v] -= learningRate * (adamM[q][t][v] / c1) / ((adamV[q][t][v] / c2).squareRoot() + 1e-8)
                }
            }
        }

        // 7. A log line per update.
        let meanReward = rewards.joined().reduce(0, +) / b
        if iteration == 1 || iteration % max(1, iterations / 10) == 0 || iteration == iterations {
            // On the first update of a batch every r = 1, so the policy term is -mean(A) = 0 on
            // paper: what is left is beta times the KL to theta_ref.
            let loss = abs(total.value) < 1e-12 ? "0" : fixed(total.value, 5)
            print(column("\(iteration)", 9) + column("\(update)", 8) + column(loss, 11) + column(fixed(meanReward, 3), 13)
                  + column(fixed(norm.squareRoot(), 4), 20))
        }
    }
}

// What the policy answers now: the most likely token at each position.
print("\nmost likely answers after \(iterations) iterations:")
for (q, prompt) in prompts.enumerated() {
    let answer = (0..<maxLength).map { t in theta[q][t].indices.max { theta[q][t][$0] < theta[q][t][$1] }! }
    let shown = answer.prefix { $0 != eos }.map { tokens[$0] }.joined(separator: " ")
    print("  \(prompt.map { tokens[$0] }.joined())  ->  \(shown) <eos>")
}
