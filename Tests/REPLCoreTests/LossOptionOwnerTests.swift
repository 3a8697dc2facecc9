import GRPO
import Testing
@testable import TinyPolicy
@testable import REPLCore

/// The loss options have one owner, the trainer: what `set` changes is what the next update
/// uses, with no copy to keep in step. A batch file's max_completion_length is the one explicit
/// exception, for its batch on screen only.
@Suite("Loss options: one owner")
struct LossOptionOwnerTests {
    func fresh() -> Interpreter { Interpreter(session: Session(projectRoot: ProjectFiles.root)) }

    @Test("set and preset reach the trainer at once, and the next update computes with them")
    func setReachesTrainer() throws {
        let interpreter = fresh()
        #expect(!interpreter.execute("set beta 0.3").isError)
        #expect(interpreter.session.trainer.lossConfig.beta == 0.3)
        #expect(!interpreter.execute("preset dr_grpo").isError)
        #expect(interpreter.session.trainer.lossConfig.lossType == .drGRPO && interpreter.session.trainer.lossConfig.beta == 0)
        #expect(!interpreter.execute("step").isError)
        #expect(interpreter.session.trainer.latest?.breakdown.config.lossType == .drGRPO)
    }

    @Test("a batch file's max_completion_length (12) applies to its batch on screen, not to the tiny policy's run (8)")
    func fileLength() throws {
        let interpreter = fresh()
        let session = interpreter.session
        #expect(!interpreter.execute("explain examples/trl-run/dr_grpo-step1.json").isError)
        #expect(session.config.maxCompletionLength == 12 && session.fileMaxCompletionLength == 12)
        #expect(session.trainer.lossConfig.maxCompletionLength == 8 && session.trainer.settings.maxCompletionLength == 8)
        // The file's other options are the trainer's now.
        #expect(session.trainer.lossConfig.lossType == .drGRPO)
        // Another option keeps the file's length for its batch.
        #expect(!interpreter.execute("set beta 0.1").isError)
        #expect(session.config.maxCompletionLength == 12 && session.trainer.lossConfig.beta == 0.1)
        // Showing the trainer's batch drops it.
        #expect(!interpreter.execute("rollout").isError)
        #expect(session.config.maxCompletionLength == 8 && session.fileMaxCompletionLength == nil)
        // So does setting the tiny policy's length, and loading a session.
        #expect(!interpreter.execute("explain examples/trl-run/dr_grpo-step1.json").isError)
        #expect(!interpreter.execute("set max_completion_length 6").isError)
        #expect(session.config.maxCompletionLength == 6 && session.fileMaxCompletionLength == nil)
    }

    @Test("a lesson sets the file's length aside with the run and puts both back")
    func lessonKeepsOverride() throws {
        let interpreter = fresh()
        let session = interpreter.session
        #expect(!interpreter.execute("explain examples/trl-run/dr_grpo-step1.json").isError)
        let saved = session.workspace
        session.workspace = session.freshWorkspace
        #expect(session.config.maxCompletionLength == 8)
        session.workspace = saved
        #expect(session.config.maxCompletionLength == 12 && session.trainer.lossConfig.lossType == .drGRPO)
    }
}
