import GRPO
import Testing
@testable import TinyPolicy

/// The exact KL of whole completions (`Policy.sequenceKL`) and its gradient at the first
/// position, against central finite differences of the KL itself.
@Suite("The KL of whole completions, exactly")
struct SequenceKLTests {
    /// A policy of 3 tokens (the last one ends) over 3 positions, its parameters random, against a
    /// reference with other random parameters.
    func policies(seed: UInt64) -> (Policy, Policy) {
        var rng = SeededGenerator(seed: seed)
        var policy = Policy(vocabularySize: 3, promptCount: 2, maxLength: 3)
        var reference = policy
        for k in policy.parameters.indices {
            policy.parameters[k] = rng.normal()
            reference.parameters[k] = rng.normal()
        }
        return (policy, reference)
    }

    @Test("d KL / d z at the first position matches finite differences; so does the first token's KL alone", arguments: [1, 2, 3] as [UInt64])
    func gradient(seed: UInt64) {
        let (policy, reference) = policies(seed: seed)
        let temperature = 0.8, h = 1e-6
        let s = policy.sequenceKL(prompt: 1, reference: reference, endToken: 2, maxLength: 3, temperature: temperature)
        // <eos> first (1); a token, then <eos> (2); two tokens, then any third, which ends it (2 * 2 * 3).
        #expect(s.completions == 1 + 2 + 2 * 2 * 3)
        #expect(s.kl > 0 && s.firstPositionKL > 0)
        for z in 0..<3 {
            func moved(_ shift: Double) -> SequenceKL {
                var p = policy
                p.parameters[p.promptPositionIndex(prompt: 1, position: 0, token: z)] += shift
                return p.sequenceKL(prompt: 1, reference: reference, endToken: 2, maxLength: 3, temperature: temperature)
            }
            let (up, down) = (moved(h), moved(-h))
            #expect(abs(s.sequenceGradient[z] - (up.kl - down.kl) / (2 * h)) < 1e-7, "token \(z)")
            #expect(abs(s.perPositionGradient[z] - (up.firstPositionKL - down.firstPositionKL) / (2 * h)) < 1e-7, "token \(z)")
        }
        // The later tokens' part is not 0 here: the per-token sum misses it.
        #expect(zip(s.sequenceGradient, s.perPositionGradient).contains { abs($0 - $1) > 1e-3 })
    }

    @Test("the same policy as its reference: KL 0 and no gradient")
    func zeroAtReference() {
        let (policy, _) = policies(seed: 4)
        let s = policy.sequenceKL(prompt: 0, reference: policy, endToken: 2, maxLength: 3, temperature: 1)
        #expect(abs(s.kl) < 1e-15 && s.sequenceGradient.allSatisfy { abs($0) < 1e-15 })
    }
}
