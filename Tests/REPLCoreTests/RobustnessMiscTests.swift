import Foundation
import GRPO
import Testing
@testable import REPLCore

@Suite("Robustness: completion, lessons folder")
struct RobustnessMiscTests {
    @Test("Tab completion never traps: seeded random lines with any word start, including outside the line")
    func completionFuzz() {
        let session = Session(projectRoot: ProjectFiles.root)
        var rng = SeededGenerator(seed: 99)
        let pieces = CommandTable.names + session.settings.map(\.key) + ["=", " ", "  ", "\t", "\"", "é", "🙂", "\u{0}", "\u{1B}", "a\u{301}", "all", "last"]
        for _ in 0..<3000 {
            let line = (0..<rng.integer(0, 6)).map { _ in pieces[rng.integer(0, pieces.count - 1)] }.joined()
            let start = rng.integer(-3, line.count + 3)
            let candidates = Completer.candidates(line: line, wordStart: start, session: session)
            _ = Completer.wantsFiles(line: line, wordStart: start)
            #expect(candidates == candidates.sorted())
        }
    }

    @Test("a lessons folder with odd file names (non-ASCII digits, no digits, a directory) lists without trapping")
    func oddLessonFiles() throws {
        let dir = TemporaryDirectory("grpo-lessons")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("lessons/07-a-directory.md"), withIntermediateDirectories: true)
        for name in ["٠١-arabic-digits.md", "½½-fractions.md", "１２-fullwidth.md", "3-one-digit.md", "123-three.md", "01-ok.md", ".05-hidden.md", "02-empty.md"] {
            FileManager.default.createFile(atPath: dir.file("lessons/" + name), contents: name == "02-empty.md" ? Data() : Data("# Title\n\n```repl\nexample\n```\n".utf8))
        }
        #expect(LessonCatalog.numbers(root: dir.path).sorted() == ["1", "2", "7"])
        _ = LessonCatalog.all(root: dir.path)
        let interpreter = Interpreter(session: Session(projectRoot: dir.path))
        for line in ["lessons", "lesson 1", "", "", "lesson 2", "lesson 7", "lesson ٠١", "lesson 3"] {
            #expect(replyProblem(interpreter.execute(line)) == nil)
        }
    }
}
