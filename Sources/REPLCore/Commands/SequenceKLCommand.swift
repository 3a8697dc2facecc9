#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO
import TinyPolicy

/// `klseq [PROMPT]`: the KL of whole completions to pi_ref, exactly, and its gradient with
/// respect to the first position's logits, beside what per-token KL estimates in the loss send
/// there (the first position's KL alone). Lesson 06.
enum SequenceKLCommand {
    /// Completions the command lists at most (every one is visited).
    static let completionLimit = 2_000_000

    static func run(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        let trainer = session.trainer
        let task = trainer.task
        guard args.count <= 1 else { throw CommandError("klseq takes at most one prompt number, e.g. 'klseq 0'") }
        let prompt = try args.first.map { (a: String) throws(CommandError) -> Int in
            try Args.integer(a, "the prompt", 0, task.prompts.count - 1)
        } ?? 0
        let v = Double(task.vocabularySize), length = Double(trainer.settings.maxCompletionLength)
        // At most V (V - 1)^(L - 1) + ... completions: refuse a tree too big to list.
        guard pow(v - 1, length - 1) * v <= Double(completionLimit) else {
            throw CommandError("klseq lists every completion, and \(task.vocabularySize) tokens over \(trainer.settings.maxCompletionLength) "
                               + "positions make too many; 'set max_completion_length 6' makes it listable")
        }
        let s = trainer.policy.sequenceKL(prompt: prompt, reference: trainer.referencePolicy, endToken: task.endToken,
                                          maxLength: trainer.settings.maxCompletionLength, temperature: trainer.settings.temperature)
        var lines = ["prompt \(prompt) ('\(task.prompts[prompt])'), task \(task.name): every one of its \(s.completions) completions, "
                     + "pi_theta against pi_ref",
                     "KL(pi_theta || pi_ref) of whole completions  = \(Fmt.num(s.kl, digits: 6))",
                     "KL of the first token alone                  = \(Fmt.num(s.firstPositionKL, digits: 6))", ""]
        var table = Table(title: "d KL / d z_v, z = the first position's logits (promptPosition[\(prompt)][0])",
                          columns: [.text("token"), .number("p_v"), .number("whole completions"), .number("first token alone"),
                                    .number("difference")])
        for token in 0..<task.vocabularySize {
            table.add([task.tokens[token], Fmt.num(s.firstTokenProbability[token]), Fmt.num(s.sequenceGradient[token]),
                       Fmt.num(s.perPositionGradient[token]), Fmt.num(s.sequenceGradient[token] - s.perPositionGradient[token])])
        }
        lines += table.render()
        lines += Fmt.wrap("first token alone: what k2 (and k3 with the importance correction) summed over tokens in the loss send "
                          + "to z in expectation, the prefix held fixed. The difference is what reaches z through the later tokens' "
                          + "probabilities (E[d log pi(o_0) * their log-ratios]); k1 summed into each completion's reward "
                          + "(PPO-RLHF's KL penalty) carries it, through the advantage.", width: session.lineWidth)
        return lines
    }

    static let all: [Command] = [
        Command("klseq", syntax: "[PROMPT]",
                summary: "the exact KL of whole completions to pi_ref and its gradient at the first token, vs per-token estimates (lesson 06)",
                term: "KL(pi || pi_ref) = sum_o pi(o) log(pi(o) / pi_ref(o))", example: "klseq 0") { session, args throws(CommandError) in
            try run(session, args)
        },
    ]
}
