import ArgumentParser
import GRPO

/// `explain`'s command line, as `grpo-repl explain` parses it (and its `--help` and shell
/// completion say it): `FILE [--json] [--all] [--check] [--naive] [--preset NAME] [--set k=v ...]`,
/// each value option as `--flag value` or `--flag=value`. `request()` checks the values.
public struct ExplainArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The batch file (JSON): README.md, section 'explain'; lesson 13.", valueName: "file"),
              completion: .file(extensions: ["json"]))
    public var file: String

    @Flag(help: ArgumentHelp("Every quantity of both paths, as JSON (inf and NaN as null; above the naive path's "
                             + "\(Naive.comfortableTokenCount) tokens, 'paths' has only 'vectorized' unless --naive)."))
    public var json = false

    @Flag(help: "Every token (the table stops at \(ExplainText.rowLimit) rows otherwise).")
    public var all = false

    @Flag(help: "Exit 1 if a number the file logged differs from ours, or the two paths disagree.")
    public var check = false

    @Flag(help: "Run the naive path too on a batch of more than \(Naive.comfortableTokenCount) tokens (slow).")
    public var naive = false

    @Option(help: ArgumentHelp("The options the file's config starts from: "
                               + Preset.allCases.map(\.rawValue).joined(separator: ", ") + " (default deepseekmath).",
                               valueName: "name"),
            completion: .list(Preset.allCases.map(\.rawValue)))
    public var preset: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Change one option after the file's config (repeatable).",
                                                          valueName: "key=value"))
    public var sets: [String] = []

    @Option(help: ArgumentHelp("A log line as transformers prints it, in quotes (\"{'loss': '0.0123', 'kl': '0.002'}\"): "
                               + "compared with ours in place of the file's logged numbers.", valueName: "line"))
    public var logged: String?

    public init() {}

    /// The request these arguments make, once the preset's name and each key=value are checked.
    public func request() throws(InputError) -> ExplainCommand.Request {
        var request = ExplainCommand.Request(path: file)
        request.json = json
        request.showAll = all
        request.check = check
        request.forceNaive = naive
        request.loggedLine = logged
        if let preset {
            guard let named = Preset(rawValue: preset) else {
                throw InputError("unknown preset '\(preset)'; presets are \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            request.preset = named
        }
        for pair in sets {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw InputError("--set takes key=value (e.g. --set beta=0), not '\(pair)'")
            }
            request.sets.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
        }
        return request
    }
}

/// ArgumentParser's messages in the project's form: one line, starting in lower case, then what
/// to read next (`; 'grpo-repl --help' shows the usage`).
public enum ArgumentMessage {
    public static func oneLine(_ message: String, then next: String) -> String {
        let text = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        let start = text.prefix(1).lowercased() + text.dropFirst()
        return start + (start.last.map { ".?!".contains($0) } == true ? " " : "; ") + next
    }
}
