import Foundation
import GRPO
import Testing
@testable import REPLCore

/// Every option at each of its extreme accepted values, one option at a time, then every command:
/// nothing traps, every error is one line and changes nothing.
@Suite("Robustness: every option at its extremes, then every command")
struct RobustnessMatrixTests {
    static let values = ["0", "-0", "5e-324", "1e-300", "1e-9", "0.5", "0.9999999999999999", "1", "1.0000000000000002", "2", "64",
                         "256", "100", "1000000", "1e308", "none", "true", "false"]

    static let commands = ["example", "advantages", "logprobs", "ratio", "clip", "kl", "loss", "grad", "tokens all", "metrics",
                           "compare", "compare loss_type", "compare presets", "surrogate", "forking", "mismatch", "verl",
                           "gradcheck", "savebatch /dev/null", "rollout", "step", "iterate", "train 2", "loss", "policy", "history",
                           "chart all", "average", "reach reward 0.5", "config"]

    @Test("one option at a time at each extreme value", arguments: Session(projectRoot: ProjectFiles.root).settings.map(\.key))
    func option(_ key: String) {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let setting = interpreter.session.setting(named: key)!
        for value in Self.values + setting.suggestions {
            let set = interpreter.execute("set \(key) \(value)")
            #expect(replyProblem(set) == nil, "set \(key) \(value): \(replyProblem(set) ?? "")")
            guard !set.isError else { continue }
            for line in Self.commands {
                let before = SessionSnapshot(interpreter.session)
                let reply = interpreter.execute(line)
                #expect(replyProblem(reply) == nil, "\(key)=\(value), \(line): \(replyProblem(reply) ?? "")")
                if reply.isError {
                    let after = SessionSnapshot(interpreter.session)
                    #expect(after == before, "\(key)=\(value), \(line) failed (\(reply.lines[0])) but changed \(after.differences(from: before))")
                }
            }
        }
    }
}
