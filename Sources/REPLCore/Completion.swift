import GRPO

/// Tab completion, from the command table: command names first, then each command's arguments
/// (`set loss_type <Tab>` offers grpo bnpo dapo dr_grpo).
public enum Completer {
    /// Candidates for the word that starts at `wordStart` (a character offset) in `line`.
    public static func candidates(line: String, wordStart: Int, session: Session) -> [String] {
        let chars = Array(line)
        let start = min(max(wordStart, 0), chars.count)
        let before = String(chars[..<start])
        let word = String(chars[start...]).split(separator: " ").first.map(String.init) ?? ""
        let previous = before.split(whereSeparator: { $0 == " " || $0 == "=" || $0 == "\t" }).map(String.init)
        let options = previousWords(previous, session: session)
        return options.filter { $0.hasPrefix(word) }.sorted()
    }

    /// True when the word being completed is a file name (readline then completes paths).
    public static func wantsFiles(line: String, wordStart: Int) -> Bool {
        let before = String(Array(line).prefix(max(wordStart, 0)))
        guard let first = before.split(separator: " ").first.map(String.init),
              let command = CommandTable.command(named: first) else { return false }
        if case .files = command.completion { return true }
        return false
    }

    private static func previousWords(_ previous: [String], session: Session) -> [String] {
        guard let first = previous.first else { return CommandTable.names }
        guard let command = CommandTable.command(named: first) else { return [] }
        let argumentIndex = previous.count - 1
        switch command.completion {
        case .files: return []
        case .none: return argumentIndex == 0 && command.syntax.contains("[all]") ? ["all"] : []
        case .words(let words):
            // `chart reward length`, `average reward kl`: a NAME... syntax takes several words, each once;
            // after `last`, `from`, `to` or `window` comes a number.
            let typed = previous.dropFirst()
            if let last = typed.last, ["last", "from", "to", "window"].contains(last) { return [] }
            var offered = argumentIndex == 0 || command.syntax.contains("...") ? words.filter { !typed.contains($0) } : []
            if command.syntax.contains("[all]"), !typed.contains("all") { offered.append("all") }
            return offered
        case .commands: return argumentIndex == 0 ? CommandTable.names : []
        case .presets: return argumentIndex == 0 ? Preset.allCases.map(\.rawValue) : []
        case .terms: return argumentIndex == 0 ? SourceCommand.terms.map(\.term) : []
        case .lessons: return argumentIndex == 0 ? LessonCatalog.numbers(root: session.projectRoot) + ["stop"] : []
        case .tasks: return argumentIndex == 0 ? session.taskNames : []
        case .optionNames: return argumentIndex == 0 ? Setting.Scope.allCases.map(\.rawValue) + session.settings.map(\.key) : []
        case .options:
            if argumentIndex == 0 { return session.settings.map(\.key) }
            if argumentIndex == 1, let setting = session.setting(named: previous[1]) { return setting.suggestions }
            return []
        }
    }
}
