import GRPO

/// Getting a batch on screen without the tiny policy: a fixed example, or a batch file.
enum BatchCommands {
    static let all: [Command] = [
        Command("example", syntax: "[standard|trl]",
                summary: "load a small fixed batch (2 prompts x G = 3); 'trl' is the exact batch of TRL's golden values",
                completion: .words(ExampleBatches.names)) { session, args throws(CommandError) in
            let name = args.first ?? "standard"
            guard args.count <= 1, let batch = ExampleBatches.named(name) else {
                throw CommandError("example takes one of \(ExampleBatches.names.joined(separator: ", ")), not '\(args.joined(separator: " "))'")
            }
            session.show(batch, origin: "example \(name)")
            return ["batch: example \(name), \(batch.groups.count) groups x G = \(batch.groupSize), \(batch.tokenCount) tokens, "
                    + "rewards \(batch.groups.map { $0.rewards.map { Fmt.num($0) }.joined(separator: " ") }.joined(separator: " | "))",
                    "next: 'advantages', 'ratio', 'clip', 'kl', 'loss', 'grad' show each term; 'tokens' shows them all"]
        },
        Command("explain", syntax: "FILE [FLAGS]",
                summary: "load a batch file (the format of 'grpo-repl explain'); its config replaces the loss options; "
                    + "FLAGS: --preset NAME, --set key=value, --logged LINE ('explain --help')",
                example: "explain lessons/data/example-batch.json", completion: .files) { session, args throws(CommandError) in
            if args == ["--help"] || args == ["-h"] {
                return ["explain FILE [--preset NAME] [--set key=value ...] [--logged LINE]: the batch file becomes the current batch, its",
                        "config (over the preset, then each --set) the loss options; 'grpo-repl explain --help' at the shell has the rest"]
            }
            var request: ExplainCommand.Request
            do throws(InputError) { request = try ExplainCommand.parse(args) } catch { throw CommandError(error.message) }
            // What only a one-off run at the shell does: the session shows these with its own commands.
            for (given, flag, instead) in [(request.json, "--json", "'savebatch FILE' writes the batch"), (request.check, "--check", "the table under it says what differs"),
                                           (request.showAll, "--all", "'tokens all' shows every token"), (request.forceNaive, "--naive", "'set show_path naive' chooses the path shown")] where given {
                throw CommandError("\(flag) is for 'grpo-repl explain' at the shell; in the session \(instead)")
            }
            let typed = request.path
            request.path = ProjectFiles.resolve(typed, root: session.projectRoot)
            let contents: BatchFile.Contents
            do throws(InputError) { contents = try ExplainCommand.load(request) } catch { throw CommandError(error.message) }
            let batch = contents.batch
            let before = session.config.settings
            session.showFile(batch, config: contents.config, origin: "file \(typed)")
            let changed = ConfigCommands.changeLines(before, session.config.settings)
            var libraryNote: [String] = []
            if let verl = contents.verl {
                session.showVerlFile(verl, responseBatch: contents.responseBatch ?? batch, advantageSource: contents.advantageSource)
            } else {
                libraryNote = session.backToTRL(because: "the file gives TRL's options")
            }
            let b = try session.breakdown()
            let verlLines = contents.verl.map { verl in
                ["verl 0.9.1: " + ExplainText.changedVerlSettings(verl) + " (the loss options below compute verl's loss)"]
                    + BreakdownView.pairLines(VerlMetrics.metrics(b, batch: contents.responseBatch ?? batch, options: verl).map { ($0.name, Fmt.num($0.value)) })
            } ?? []
            return ["batch: \(typed), \(ExplainText.groupsText(batch)), \(batch.tokenCount) tokens"]
                + libraryNote + verlLines + [
                    "config: " + ExplainText.changedSettings(contents.config)]
                + (changed.isEmpty ? ["  (the session's loss options were these already)"]
                   : ["the session's loss options, as the file sets them:"] + changed) + [
                    "loss = \(Fmt.loss(b)); 'tokens' shows every quantity, "
                        + (batch.tokenCount > session.naiveTokenLimit
                            ? "on the vectorized path (\(batch.tokenCount) tokens is too many for the naive one)"
                            : "'compare' checks both paths")]
                + (contents.verl == nil ? ConfigCommands.trlNotes(contents.config) : [])
                + NonFinite.warnings(b) + (contents.logged.map { [""] + $0.lines(contents.ours(b)) } ?? [])
        },
        Command("batch", syntax: "[all]", summary: "the current batch again: where it came from, its completions, rewards and advantages",
                example: "batch all") { session, args throws(CommandError) in
            try Args.onlyAll(args, "batch")
            if session.batchIsTrainers, let rollout = session.trainer.currentRollout {
                return try TrainingCommands.rolloutLines(session, rollout, all: Args.wantsAll(args), command: "batch")
            }
            return try batchLines(session, all: Args.wantsAll(args))
        },
        Command("savebatch", syntax: "FILE", summary: "write the current batch and loss options as a batch file (for explain or other libraries)",
                example: "savebatch /tmp/batch.json", completion: .files) { session, args throws(CommandError) in
            guard args.count == 1 else { throw CommandError("savebatch takes one FILE, e.g. 'savebatch batch.json'") }
            // Under library verl: verl's options and the batch as verl's actor is given it (a verl
            // file's own, before rejection), so that 'explain' computes the same loss again.
            let batch: Batch, file: JSONValue
            var notes: [String] = []
            if session.library == .verl {
                batch = if let verlFile = session.verlFile { verlFile.responseBatch } else { try session.currentBatch() }
                file = BatchFile.encode(batch, verl: session.verlOptionsAsComputed())
            } else {
                batch = try session.currentBatch()
                file = BatchFile.encode(batch, config: session.config)
                if batch.hasPolicyWeight || batch.hasLogRatioPenalty {
                    notes.append("note: this batch's per-token weights and penalties are verl's and TRL's options cannot hold them; "
                                 + "'set library verl' then 'savebatch' writes verl's options")
                }
            }
            do throws(InputError) { try AtomicFile.write(file.rendered(pretty: true) + "\n", to: args[0]) } catch { throw CommandError(error.message) }
            var lines = ["wrote \(args[0]): \(batch.completionCount) completions, \(batch.tokenCount) tokens"
                         + (session.library == .verl ? ", under verl's option names" : "")] + notes
            // `example trl`'s synthetic golden inputs hold a "log-probability" above 0.
            do throws(InputError) { _ = try BatchFile.decode(file, name: args[0], base: session.config) } catch {
                lines.append("note: 'explain' will refuse this file: \(error.message)")
            }
            return lines
        },
    ]

    /// A batch that is not the tiny policy's rollout (a file, an example): one row per completion.
    static func batchLines(_ session: Session, all: Bool) throws(CommandError) -> [String] {
        let batch = try session.currentBatch()
        let b = try session.breakdown()
        var table = Table(columns: [.number("g"), .number("i"), .number("|o_i|"), .number("reward"), .number("A_i")])
        var row = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                table.add(["\(g)", "\(i)", "\(c.length)", Fmt.num(c.reward), Fmt.num(b.advantages[row])])
                row += 1
            }
        }
        return ["batch: \(session.batchOrigin), \(ExplainText.groupsText(batch)), \(batch.tokenCount) tokens"]
            + session.render(table, all: all, command: "batch")
            + ["'tokens' shows every quantity of its tokens, 'config' the loss options it is computed with"]
    }
}
