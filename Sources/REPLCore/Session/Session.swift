import GRPO
import TinyPolicy

/// Everything a REPL session holds: the loss options, the batch on screen and its breakdowns,
/// and how output is drawn. Commands read and change it; nothing here touches the terminal.
public final class Session {
    /// The loss options (`set`, `preset`). Their one owner is the trainer (`Trainer.lossConfig`),
    /// so training always uses what the term commands show; the only exception is explicit: a
    /// batch file's own max_completion_length (`fileMaxCompletionLength`), which applies to its
    /// batch on screen but not to the tiny policy, whose answers that length bounds. Assigning
    /// keeps max_completion_length as it is (the tiny policy's is a training setting, `set
    /// max_completion_length`; a file's comes with `showFile`).
    public var config: GRPOConfig {
        get {
            var c = trainer.lossConfig
            if let n = fileMaxCompletionLength { c.maxCompletionLength = n }
            return c
        }
        set {
            trainer.lossConfig = newValue
            breakdownCache = nil
        }
    }
    /// max_completion_length as the batch file on screen sets it, while its batch is shown and
    /// the value differs from the tiny policy's; nil otherwise.
    public private(set) var fileMaxCompletionLength: Int?
    /// The batch the per-term commands show, and where it came from.
    public private(set) var batch: Batch?
    public private(set) var batchOrigin = ""
    /// Which path's numbers the per-term commands print (both are always computed by `compare`).
    public var displayPath: DisplayPath = .naive {
        didSet { breakdownCache = nil }
    }
    /// Whose option and metric names the session speaks (`set library verl`), and verl's options
    /// (read under `library verl`, and by the `verl` command after a verl batch file).
    public internal(set) var library: Library = .trl {
        didSet { breakdownCache = nil }
    }
    public internal(set) var verlOptions = VerlOptions() {
        didSet { breakdownCache = nil }
    }
    /// What the last switch of `library` changed, for `set` to print.
    var librarySwitchNotes: [String] = []
    public var style = Style(enabled: false)
    public var unicode = true
    /// The widest line `help` wraps its prose to: the terminal's width when the front end knows
    /// it, at most `Fmt.lineWidth`.
    public var lineWidth = Fmt.lineWidth
    /// Tables longer than this are cut, with a note; `all` after a command shows every row.
    public var rowLimit = 40
    /// The most rows `all` shows: past it a table of a big batch would take minutes and
    /// gigabytes to print (3.6M tokens), and `grpo-repl explain FILE --json` writes every token.
    public var allRowLimit = 100_000
    /// The largest batch the naive path computes (`Naive.comfortableTokenCount`); above it the
    /// term commands show the vectorized path and `compare` refuses.
    public var naiveTokenLimit = Naive.comfortableTokenCount
    /// Where the lessons and the naive path's sources are found (the repository's root).
    public var projectRoot: String
    /// Asked between training steps: true stops a long command at a step boundary (Ctrl-C).
    public var shouldStop: () -> Bool = { false }
    /// Shows a progress line during a long command (on a terminal), or nil.
    public var progress: ((String) -> Void)? = nil
    /// Prints a line at once, ahead of the command's reply (on a terminal), or nil: a lesson
    /// step's `grpo> train 60` shows before the training runs, not after.
    public var printNow: ((String) -> Void)? = nil
    /// True when `grpo-repl lesson N` runs every step at once: the lesson's text then has no
    /// "press Enter" in it.
    public var lessonRunsAtOnce = false

    /// The tiny policy and its GRPO training loop (`rollout`, `step`, `train`, ...), and the
    /// owner of the loss options. No observer on purpose: `session.trainer.train(...)` then
    /// mutates it in place, where a `didSet` would copy it, and its whole history, per call.
    public var trainer: Trainer

    private var breakdownCache: Breakdown?

    /// The lesson being stepped through, the index of its next step, and the learner's own
    /// session, set aside while the lesson runs in a fresh one.
    public struct LessonProgress: Sendable {
        public var lesson: Lesson
        public var next: Int
        var setAside: Workspace
    }
    public var lessonProgress: LessonProgress?

    /// What a lesson sets aside and puts back: the options, the run and the batch on screen (not
    /// how output is drawn, nor the lesson itself).
    struct Workspace: Sendable {
        var fileMaxCompletionLength: Int?
        var trainer: Trainer
        var batch: Batch?
        var batchOrigin: String
        var batchIsTrainers: Bool
        var displayPath: DisplayPath
        var rowLimit: Int
    }

    public enum DisplayPath: String, Sendable, CaseIterable {
        case naive, vectorized
    }

    public init(projectRoot: String = ProjectFiles.root) {
        self.projectRoot = projectRoot
        trainer = try! Trainer()  // the defaults are valid by construction (tested)
    }

    /// The session's options, run and batch, to set aside and put back whole.
    var workspace: Workspace {
        get {
            Workspace(fileMaxCompletionLength: fileMaxCompletionLength, trainer: trainer, batch: batch, batchOrigin: batchOrigin,
                      batchIsTrainers: batchIsTrainers, displayPath: displayPath, rowLimit: rowLimit)
        }
        set {
            trainer = newValue.trainer
            fileMaxCompletionLength = newValue.fileMaxCompletionLength
            batch = newValue.batch
            batchOrigin = newValue.batchOrigin
            batchIsTrainers = newValue.batchIsTrainers
            displayPath = newValue.displayPath
            rowLimit = newValue.rowLimit
            breakdownCache = nil
        }
    }

    /// A new session's workspace: the default options and display settings, no run, no batch.
    var freshWorkspace: Workspace { Session(projectRoot: projectRoot).workspace }

    /// Shows the trainer's current batch: what `rollout`, `step` and `train` call after they
    /// change the policy.
    func showTrainerBatch(origin: String) {
        if let batch = trainer.buildBatch() { show(batch, origin: origin, fromTrainer: true) }
    }

    /// True when the batch on screen is the tiny policy's (so a new run makes it stale).
    public private(set) var batchIsTrainers = false

    /// Makes `batch` the current batch; the loss options apply to it with the tiny policy's
    /// max_completion_length (`showFile` brings a file's own).
    public func show(_ batch: Batch, origin: String, fromTrainer: Bool = false) {
        self.batch = batch
        batchOrigin = origin
        batchIsTrainers = fromTrainer
        fileMaxCompletionLength = nil
        breakdownCache = nil
        verlFile = nil
    }

    /// Makes a batch file's batch the current one, with its loss options: they become the
    /// session's (and so the trainer's), and its max_completion_length applies to this batch
    /// while it is shown.
    func showFile(_ batch: Batch, config: GRPOConfig, origin: String) {
        show(batch, origin: origin)
        self.config = config
        let own = trainer.settings.maxCompletionLength
        fileMaxCompletionLength = config.maxCompletionLength == own ? nil : config.maxCompletionLength
    }

    /// Drops a batch file's max_completion_length: the tiny policy's applies again (after `set
    /// max_completion_length` or `load`).
    func useTrainersMaxCompletionLength() {
        fileMaxCompletionLength = nil
        breakdownCache = nil
    }

    /// A batch file's verl options, its batch as the file gives it (before verl's rejection
    /// sampling), and where its advantages came from, while its batch is the current one
    /// (`explain` of a file with `"verl"`): `verl` and `advantages` read them.
    public private(set) var verlFile: (options: VerlOptions, responseBatch: Batch, advantageSource: String?)? = nil

    /// Remembers the verl options of the batch `explain` has just shown.
    func showVerlFile(_ options: VerlOptions, responseBatch: Batch, advantageSource: String?) {
        verlFile = (options, responseBatch, advantageSource)
        verlOptions = options
    }

    /// Forgets the batch on screen when it came from a run that has just been replaced.
    func clearBatchIfFromTrainer() {
        guard batchIsTrainers else { return }
        batch = nil
        batchOrigin = ""
        batchIsTrainers = false
        breakdownCache = nil
    }

    /// The current batch, or an error telling the learner how to get one.
    public func currentBatch() throws(CommandError) -> Batch {
        guard let batch else {
            throw CommandError("no batch yet: type 'rollout' to sample one, 'example' for a small fixed one, or 'explain FILE'")
        }
        return batch
    }

    /// The path the term commands show: `show_path`, but the vectorized one for a batch too big
    /// for the naive path (`naiveTokenLimit`).
    var shownPath: DisplayPath {
        (batch?.tokenCount ?? 0) > naiveTokenLimit ? .vectorized : displayPath
    }

    /// The options the current batch's loss uses: the session's, except that a batch from the
    /// trainer under `use_adaptive_entropy` gets the coefficient its controller applies now (the
    /// one the next step would use), not `entropy_coef` as set.
    var batchConfig: GRPOConfig {
        guard batchIsTrainers, config.useAdaptiveEntropy else { return config }
        var c = config
        c.entropyCoef = trainer.entropyControl.appliedCoefficient(config)
        return c
    }

    /// The breakdown of the current batch under the current options, on the shown path.
    public func breakdown() throws(CommandError) -> Breakdown {
        if let breakdownCache { return breakdownCache }
        let (batch, config) = try lossInputs()
        do {
            let b = shownPath == .naive ? try Naive.breakdown(batch, config: config)
                                        : try Vectorized.breakdown(batch, config: config)
            breakdownCache = b
            return b
        } catch {
            throw CommandError("the current batch does not fit the options: \(error.message)")
        }
    }

    /// Both paths' breakdowns (for `compare`).
    public func bothBreakdowns() throws(CommandError) -> (naive: Breakdown, vectorized: Breakdown) {
        let (batch, config) = try lossInputs(path: .naive)
        guard batch.tokenCount <= naiveTokenLimit else {
            throw CommandError("this needs the naive path, and the batch has \(batch.tokenCount) tokens, more than the "
                               + "\(naiveTokenLimit) it handles comfortably (1-2 KB and about 5 us a token); "
                               + "'grpo-repl explain FILE --naive' runs it anyway")
        }
        let vectorizedBatch = try lossInputs(path: .vectorized).batch
        do {
            return (try Naive.breakdown(batch, config: config), try Vectorized.breakdown(vectorizedBatch, config: config))
        } catch {
            throw CommandError("the current batch does not fit the options: \(error.message)")
        }
    }

    /// The naive path, the specification, up to `naiveTokenLimit` tokens; the vectorized one
    /// above (they agree to 1e-12, AgreementTests).
    func breakdownBySize(_ batch: Batch, config: GRPOConfig) throws(BatchError) -> Breakdown {
        batch.tokenCount <= naiveTokenLimit ? try Naive.breakdown(batch, config: config)
                                            : try Vectorized.breakdown(batch, config: config)
    }

    /// Throws when Ctrl-C was pressed: for a command between two pieces of its work.
    func stopIfAsked() throws(CommandError) {
        if shouldStop() { throw CommandError("interrupted: nothing more was computed") }
    }

    /// The rows a table made for `all` (or not) needs: rows past this are only counted.
    func rowsNeeded(all: Bool) -> Int { all ? allRowLimit : rowLimit }

    /// Cuts `table` at `rowLimit` unless `all` was asked for (then at `allRowsLimit`), with a
    /// note saying how to see the rest.
    func render(_ table: Table, all: Bool, command: String) -> [String] {
        guard all else {
            return table.render(maxRows: rowLimit) { "... \($0) more rows (type '\(command) all' to see every row)" }
        }
        return table.render(maxRows: allRowLimit) {
            "... \($0) more rows ('all' shows at most \(allRowLimit); 'grpo-repl explain FILE --json' writes every token)"
        }
    }

    /// The breakdown of `batch` under `config` for a command that computes several (one per loss
    /// type or preset), by `breakdownBySize`. Ctrl-C between two of them stops the command.
    func lossBreakdown(_ batch: Batch, config: GRPOConfig) throws(CommandError) -> Breakdown {
        try stopIfAsked()
        do throws(BatchError) { return try breakdownBySize(batch, config: config) } catch {
            throw CommandError("the current batch does not fit the options: \(error.message)")
        }
    }
}
