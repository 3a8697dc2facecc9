import Foundation
import GRPO
import TinyPolicy
@testable import REPLCore

/// Everything a REPL session holds that a failed command must leave alone: compared before and
/// after a command that answered with an error (and a failed `load` or `explain FILE`).
struct SessionSnapshot: Equatable, CustomStringConvertible {
    var config: GRPOConfig
    var trainerConfig: GRPOConfig
    var settings: TrainingSettings
    var stepCount: Int
    var iterationCount: Int
    var innerStepsDone: Int
    var historyCount: Int
    var policy: [Double]
    var oldPolicy: [Double]
    var referencePolicy: [Double]
    var rng: SeededGenerator
    var rollout: Rollout?
    var batch: Batch?
    var batchOrigin: String
    var rows: Int
    var displayPath: Session.DisplayPath
    var lesson: String?
    var lessonNext: Int?

    init(_ s: Session) {
        config = s.config
        trainerConfig = s.trainer.lossConfig
        settings = s.trainer.settings
        stepCount = s.trainer.stepCount
        iterationCount = s.trainer.iterationCount
        innerStepsDone = s.trainer.innerStepsDone
        historyCount = s.trainer.history.count
        policy = s.trainer.policy.parameters
        oldPolicy = s.trainer.oldPolicy.parameters
        referencePolicy = s.trainer.referencePolicy.parameters
        rng = s.trainer.rng
        rollout = s.trainer.currentRollout
        batch = s.batch
        batchOrigin = s.batchOrigin
        rows = s.rowLimit
        displayPath = s.displayPath
        lesson = s.lessonProgress?.lesson.file
        lessonNext = s.lessonProgress?.next
    }

    /// The fields that differ from `other`, for a readable failure.
    func differences(from other: SessionSnapshot) -> [String] {
        var out: [String] = []
        if config != other.config { out.append("config") }
        if trainerConfig != other.trainerConfig { out.append("trainer.lossConfig") }
        if settings != other.settings { out.append("trainer.settings") }
        if stepCount != other.stepCount || iterationCount != other.iterationCount || innerStepsDone != other.innerStepsDone
            || historyCount != other.historyCount { out.append("step counts") }
        if policy != other.policy || oldPolicy != other.oldPolicy || referencePolicy != other.referencePolicy { out.append("policy") }
        if rng != other.rng { out.append("rng") }
        if rollout != other.rollout { out.append("rollout") }
        if batch != other.batch || batchOrigin != other.batchOrigin { out.append("batch") }
        if rows != other.rows || displayPath != other.displayPath { out.append("display") }
        if lesson != other.lesson || lessonNext != other.lessonNext { out.append("lesson") }
        return out
    }

    var description: String { "snapshot(step \(stepCount), iteration \(iterationCount), batch \(batchOrigin))" }
}

/// What every reply must look like: an error is exactly one printable line starting "error: ".
func replyProblem(_ reply: Interpreter.Reply) -> String? {
    if reply.isError {
        guard reply.lines.count == 1 else { return "an error of \(reply.lines.count) lines" }
        let line = reply.lines[0]
        guard line.hasPrefix("error: ") else { return "an error not starting 'error: '" }
        if line.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "an error line with a control character (a newline or escape would break the one line)"
        }
    }
    for line in reply.lines where line.contains("\n") || line.contains("\r") {
        return "an output line containing a line break: \(line.prefix(80))"
    }
    return nil
}

/// A fresh temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "grpo-robustness") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let p = file(name)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// The names in the directory, sorted.
    var contents: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    func remove() {
        // Put back permissions a test may have taken away, so everything can be removed.
        _ = chmod(path, 0o755)
        for name in contents { _ = chmod(file(name), 0o755) }
        try? FileManager.default.removeItem(atPath: path)
    }
}
