/// A lesson from `lessons/NN-slug.md`: its title and the REPL blocks (```grpo fences) that
/// `lesson N` runs one command at a time. Inside a block, a line `# expect: TEXT` after a
/// command says that command's output contains TEXT: the lesson tests check every one, so the
/// numbers a lesson quotes are the numbers the REPL prints.
public struct Lesson: Sendable, Equatable {
    /// One REPL command and the paragraph of the lesson that leads to it (empty after the first
    /// command of a block).
    public struct Step: Sendable, Equatable {
        public var context: [String]
        public var command: String
        /// Texts the command's output must contain (`# expect:` lines).
        public var expectations: [String] = []
    }

    public var number: String
    public var file: String
    public var title: String
    public var steps: [Step]

    /// Reads the title (first "# " line) and the steps of a lesson's Markdown.
    public static func parse(_ text: String, number: String, file: String) -> Lesson {
        var title = file
        var steps: [Step] = []
        var paragraph: [String] = []
        var paragraphEnded = false
        var inBlock = false, isREPLBlock = false
        var firstInBlock = true
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingWhitespace
            if trimmed.hasPrefix("```") {
                if inBlock {
                    inBlock = false
                    if isREPLBlock { paragraph = [] }
                } else {
                    inBlock = true
                    isREPLBlock = trimmed == "```grpo"
                    firstInBlock = true
                }
                continue
            }
            if inBlock {
                guard isREPLBlock, !trimmed.isEmpty else { continue }
                if trimmed.hasPrefix("# expect:"), !steps.isEmpty {
                    steps[steps.count - 1].expectations.append(String(trimmed.dropFirst("# expect:".count)).trimmingWhitespace)
                    continue
                }
                if trimmed.hasPrefix("#") { continue }
                steps.append(Step(context: firstInBlock ? paragraph : [], command: trimmed))
                firstInBlock = false
                continue
            }
            // A paragraph ends at a blank line but stays the context of a block right after it;
            // the next text line starts a new one, a heading clears it.
            if trimmed.hasPrefix("# "), title == file {
                title = String(trimmed.dropFirst(2))
            } else if trimmed.hasPrefix("#") {
                paragraph = []
                paragraphEnded = false
            } else if trimmed.isEmpty {
                paragraphEnded = true
            } else {
                if paragraphEnded { paragraph = [] }
                paragraphEnded = false
                paragraph.append(trimmed)
            }
        }
        return Lesson(number: number, file: file, title: title, steps: steps)
    }
}

/// The lessons found in the repository's `lessons/` folder.
public enum LessonCatalog {
    /// "01-per-token-loss.md" -> "01"; files not starting with two digits are not lessons.
    static func number(of file: String) -> String? {
        let digits = file.prefix { $0.isASCII && $0.isNumber }  // "٠١-x.md" is not a lesson (and Int() could not read it)
        guard digits.count == 2, file.hasSuffix(".md") else { return nil }
        return String(digits)
    }

    public static func files(root: String) -> [String] {
        ProjectFiles.list("lessons", root: root).filter { number(of: $0) != nil }
    }

    public static func numbers(root: String) -> [String] {
        files(root: root).compactMap(number(of:)).map { String(Int($0)!) }
    }

    /// Lesson `n` ("3" or "03"), or nil.
    public static func lesson(_ n: String, root: String) -> Lesson? {
        guard let wanted = Int(n) else { return nil }
        guard let file = files(root: root).first(where: { Int(number(of: $0)!) == wanted }),
              let text = ProjectFiles.text("lessons/" + file, root: root) else { return nil }
        return Lesson.parse(text, number: String(wanted), file: file)
    }

    public static func all(root: String) -> [Lesson] {
        files(root: root).compactMap { file in
            ProjectFiles.text("lessons/" + file, root: root).map {
                Lesson.parse($0, number: String(Int(number(of: file)!)!), file: file)
            }
        }
    }
}
