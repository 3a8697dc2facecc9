import Foundation
import GRPO
import Testing
@testable import REPLCore

/// Short sessions of real options: a few `set` lines drawn from the option tables (every
/// option; its suggestions, its range's bounds, just inside them and a point within; several in
/// a row), then a training or loss command. Typed combinations like these once stopped the REPL
/// (`set sampler_precision float16`, `set vllm_importance_sampling_clip_min 5`, `step`), which
/// random characters never reach. Each line must answer or give one error line that changes
/// nothing; a trap ends the test process.
///
///     GRPO_FUZZ_SESSIONS=20000 GRPO_FUZZ_SEED=3 swift test --filter OptionFuzzTests
@Suite("Fuzz: sessions of real option values")
struct OptionFuzzTests {
    static var sessionCount: Int {
        ProcessInfo.processInfo.environment["GRPO_FUZZ_SESSIONS"].flatMap { Int($0) } ?? 1500
    }

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["GRPO_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_261_204
    }

    /// Candidate values for a setting: its suggestions, "none" when it takes none, and for a
    /// range "[lo, hi]" (or open) the bounds, values just inside them, and points in between.
    static func candidates(_ setting: Setting) -> [String] {
        var values = setting.suggestions
        if setting.accepted.contains("none") { values.append("none") }
        if let range = setting.accepted.firstMatch(of: /[\[(]([-0-9.e+]+), ([-0-9.e+]+)[\])]/),
           let lo = Double(range.1), let hi = Double(range.2) {
            let whole = setting.accepted.contains("whole")
            var numbers = [lo, hi, lo.nextUp, hi.nextDown, (lo + hi) / 2, lo + 1, hi - 1, lo * 10 + 1e-3, 0.5, 1, 2]
            if whole { numbers = numbers.map { $0.rounded() } }
            values += numbers.filter { $0.isFinite }.map { whole ? String(Int64(clamping: Int64(exactly: $0.rounded()) ?? 0)) : "\($0)" }
        }
        return values.isEmpty ? ["0", "1", "true", "false"] : values
    }

    static let commands = ["step", "rollout", "train 1", "iterate", "loss", "tokens", "metrics", "compare", "example"]

    @Test("every option at and inside its range, several in a row, then a command: an answer or one error that changes nothing")
    func optionSessions() throws {
        var rng = SeededGenerator(seed: Self.seed)
        let template = Session(projectRoot: ProjectFiles.root)
        let settings = template.settings.filter { $0.scope != .display } + template.settings.filter { $0.key == "library" }
        let table = settings.map { ($0.key, Self.candidates($0)) }
        var answered = 0, refused = 0
        for n in 0..<Self.sessionCount {
            let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
            var lines: [String] = []
            for _ in 0...rng.integer(0, 3) {
                let (key, values) = table[rng.integer(0, table.count - 1)]
                lines.append("set \(key) \(values[rng.integer(0, values.count - 1)])")
            }
            lines.append(Self.commands[rng.integer(0, Self.commands.count - 1)])
            for line in lines {
                let before = SessionSnapshot(interpreter.session)
                let reply = interpreter.execute(line)
                if let problem = replyProblem(reply) { Issue.record("session \(n), \(lines): '\(line)': \(problem)") }
                if reply.isError {
                    refused += 1
                    let after = SessionSnapshot(interpreter.session)
                    if after != before { Issue.record("session \(n), \(lines): '\(line)' failed but changed \(after.differences(from: before))") }
                } else {
                    answered += 1
                }
                FuzzLines.keepBudget(interpreter)
            }
        }
        // Both kinds happen: the draws reach refusals and real work.
        #expect(answered > Self.sessionCount && refused > Self.sessionCount / 10, "answered \(answered), refused \(refused)")
    }
}
