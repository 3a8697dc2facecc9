import GRPO

/// `grpo-repl explain FILE [--json] [--all] [--check] [--naive] [--preset NAME] [--set key=value ...]`:
/// reads a batch file, computes both paths (the naive one up to `Naive.comfortableTokenCount`
/// tokens unless `--naive`), and prints every quantity (a per-group, per-token table, or JSON)
/// and the logged numbers beside ours. The config is the preset (default `deepseekmath`), then
/// the file's `config`, then each `--set`.
public enum ExplainCommand {
    public static let usage = "usage: grpo-repl explain <file> [--json] [--all] [--check] [--naive] [--preset <name>] [--set <key=value> ...] [--logged <line>]"

    public struct Request: Equatable, Sendable {
        public var path: String
        public var json = false
        public var showAll = false
        public var check = false
        public var forceNaive = false
        /// Above this many tokens the naive path runs only with `forceNaive`.
        public var naiveTokenLimit = Naive.comfortableTokenCount
        public var preset: Preset? = nil
        public var sets: [(key: String, value: String)] = []
        /// A console log line (`--logged`) to compare in place of the file's `logged`.
        public var loggedLine: String? = nil

        public static func == (a: Request, b: Request) -> Bool {
            a.path == b.path && a.json == b.json && a.showAll == b.showAll && a.check == b.check && a.forceNaive == b.forceNaive
                && a.naiveTokenLimit == b.naiveTokenLimit
                && a.preset == b.preset
                && a.sets.map(\.key) == b.sets.map(\.key) && a.sets.map(\.value) == b.sets.map(\.value) && a.loggedLine == b.loggedLine
        }
    }

    /// What `explain` prints and its exit status: 0; 1 when `--check` finds a difference; 2 for
    /// input it cannot use.
    public struct Outcome: Sendable {
        public var output: String
        public var errors: [String]
        public var status: Int32
    }

    /// The request of a command line (the words after `explain`), by `ExplainArguments`.
    public static func parse(_ arguments: [String]) throws(InputError) -> Request {
        let parsed: ExplainArguments
        do { parsed = try ExplainArguments.parse(arguments) } catch {
            throw InputError(ArgumentMessage.oneLine(ExplainArguments.message(for: error), then: usage))
        }
        return try parsed.request()
    }

    /// Loads the request's file and config: the same steps the REPL's `explain` uses.
    public static func load(_ request: Request) throws(InputError) -> BatchFile.Contents {
        let bytes = try InputFile.read(request.path)
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw InputError("\(request.path): not valid JSON: \(error)") }
        var contents = try BatchFile.decode(json, name: request.path, base: (request.preset ?? .deepseekmath).config)
        if contents.verl != nil, let preset = request.preset {
            throw InputError("--preset \(preset.rawValue): \(request.path) has verl's options, which start from verl's defaults")
        }
        for (key, value) in request.sets {
            if var verl = contents.verl {
                // A verl file: --set takes verl's names.
                do { try verl.set(key, to: value) } catch { throw InputError("--set \(key)=\(value): \(error.message)") }
                contents.verl = verl
                continue
            }
            if let hint = unknownOptionHint(key) { throw InputError("--set \(key)=\(value): unknown option '\(key)'; \(hint)") }
            do { try contents.config.set(key, to: value) } catch { throw InputError("--set \(key)=\(value): \(error.message)") }
        }
        if let line = request.loggedLine {
            let names = contents.verl == nil ? LoggedNumbers.known.map(\.name) : OurNumbers.verlNames
            contents.logged = try LoggedNumbers.decode(.string(line), at: "--logged", names: names)
        }
        try contents.resolveVerl(name: request.path)
        do { try contents.batch.validate(for: contents.config) } catch { throw InputError("\(request.path): \(error.message)") }
        return contents
    }

    /// For a key that is not an option: what the user probably meant (another library's name for
    /// one of ours, or a near spelling); nil for a known option or when nothing is close.
    static func unknownOptionHint(_ key: String) -> String? {
        guard GRPOConfig.option(named: key) == nil else { return nil }
        return ConfigCommands.hint(for: key, among: GRPOConfig.options.map(\.key))
    }

    public static func run(_ arguments: [String]) -> Outcome {
        if arguments.contains("--help") || arguments.contains("-h") {
            return Outcome(output: ExplainArguments.helpMessage(columns: 80), errors: [], status: 0)
        }
        do throws(InputError) { return run(try parse(arguments)) } catch {
            return Outcome(output: "", errors: ["error: " + error.message], status: 2)
        }
    }

    /// Runs the command line `grpo-repl explain` parsed.
    public static func run(_ arguments: ExplainArguments) -> Outcome {
        do throws(InputError) { return run(try arguments.request()) } catch {
            return Outcome(output: "", errors: ["error: " + error.message], status: 2)
        }
    }

    public static func run(_ request: Request) -> Outcome {
        do throws(InputError) {
            let contents = try load(request)
            let (config, batch) = (contents.config, contents.batch)
            let naive: Breakdown?, vectorized: Breakdown
            let runNaive = request.forceNaive || batch.tokenCount <= request.naiveTokenLimit
            if runNaive, let problem = NaiveBudget.problem(tokens: batch.tokenCount) { throw InputError("\(request.path): \(problem)") }
            do {
                naive = runNaive ? try Naive.breakdown(batch, config: config) : nil
                vectorized = try Vectorized.breakdown(contents.vectorizedBatch ?? batch, config: config)
            } catch { throw InputError("\(request.path): \(error.message)") }
            let shown = naive ?? vectorized
            var errors = (contents.verl == nil ? ConfigCommands.trlNotes(config) : []) + NonFinite.warnings(shown)
            var status: Int32 = 0
            if request.check {
                var failed: [String] = []
                if contents.logged?.hasDifferences(contents.ours(shown)) == true { failed.append("a logged number differs from ours") }
                if let naive, naive.disagreement(with: vectorized) != nil {
                    failed.append("the naive and vectorized paths disagree")
                }
                if !failed.isEmpty {
                    errors.append("check failed: " + failed.joined(separator: "; "))
                    status = 1
                }
            }
            let output = request.json
                ? ExplainJSON.document(contents, naive: naive, vectorized: vectorized).rendered(pretty: true)
                : ExplainText.render(contents, naive: naive, vectorized: vectorized,
                                     showAll: request.showAll, preset: request.preset ?? .deepseekmath)
            return Outcome(output: output, errors: errors, status: status)
        } catch {
            return Outcome(output: "", errors: ["error: " + error.message], status: 2)
        }
    }
}
