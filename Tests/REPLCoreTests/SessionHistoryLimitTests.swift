import Foundation
import GRPO
import Testing
@testable import TinyPolicy
@testable import REPLCore

/// `save` keeps at most `SessionFile.historyLimit` step summaries, says so when it drops some,
/// and what it writes always loads; the commands that read the history count steps by number.
@Suite("Session files: a bounded history")
struct SessionHistoryLimitTests {
    @Test("over the limit (5 here): save keeps the last 5 summaries and says so; load reads them; average and history number steps as before")
    func keepsTheLast() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(!interpreter.execute("train 12").isError)
        let trained = interpreter.session.trainer
        let path = dir.file("s.json")
        let wrote = try SessionFileCommands.save(interpreter.session, to: path, historyLimit: 5)
        #expect(wrote.count == 2 && wrote[1].hasPrefix("its history keeps the last 5 of the 12 step summaries"), "\(wrote)")
        // The session itself keeps its whole history.
        #expect(interpreter.session.trainer.history.count == 12)
        let reloaded = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let load = reloaded.execute("load \(path)")
        #expect(!load.isError && load.lines[0].hasSuffix("12 step(s) (its history from step 8: the file kept the last 5)"), "\(load.lines)")
        #expect(reloaded.session.trainer.history == Array(trained.history.suffix(5)) && reloaded.session.trainer.policy == trained.policy)
        // 'average' takes step numbers: steps 8-12 are there, 1-7 are not.
        let average = reloaded.execute("average reward from 10")
        #expect(!average.isError && average.lines[0].hasPrefix("steps 10-12 of 12: 3 update(s)"), "\(average.lines)")
        let early = reloaded.execute("average reward from 2 to 6")
        #expect(early.isError && early.lines[0].contains("steps 2-6 are not in the history, which starts at step 8"), "\(early.lines)")
        // Training on continues the numbering.
        let train = reloaded.execute("train 2")
        #expect(!train.isError && train.lines.contains { $0.hasPrefix("trained: 2 update(s), steps 13-14,") }, "\(train.lines)")
    }

    @Test("at the limit nothing is dropped or said")
    func atTheLimit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(!interpreter.execute("train 5").isError)
        let wrote = try SessionFileCommands.save(interpreter.session, to: dir.file("s.json"), historyLimit: 5)
        #expect(wrote.count == 1)
    }

    @Test("30,000 summaries (the limit) with every field present and at its widest still fit the 64 MB load reads, with room to spare")
    func widestFits() throws {
        // Every stored property of a summary, filled with the longest numbers JSON gets from it.
        var fields: [String: Any] = [:]
        let sample = try Trainer().history.first ?? StepSummaryProbe.one()
        for case let (label?, value) in Mirror(reflecting: sample).children {
            let isInt = value is Int || (value as? Int?) != nil
            fields[label] = isInt ? Int(1 << 40) : -1.2345678901234567e-300
        }
        let summary = try JSONDecoder().decode(StepSummary.self, from: JSONSerialization.data(withJSONObject: fields))
        #expect(Mirror(reflecting: summary).children.allSatisfy { child in
            if case Optional<Any>.none = child.value { return false } else { return true }
        }, "some field stayed nil")
        var trainer = try Trainer()
        trainer.history = Array(repeating: summary, count: SessionFileCommands.SessionFile.historyLimit)
        let session = Session(projectRoot: ProjectFiles.root)
        session.trainer = trainer
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("wide.json")
        _ = try SessionFileCommands.save(session, to: path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size < InputFile.defaultLimit * 3 / 4, "\(size) bytes")
    }
}

/// One real summary, when a fresh trainer has none.
enum StepSummaryProbe {
    static func one() throws -> StepSummary {
        var t = try Trainer()
        return try t.innerStep().summary
    }
}
