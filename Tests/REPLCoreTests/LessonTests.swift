import Foundation
import Testing
@testable import REPLCore

/// Every lesson's REPL blocks run in a fresh session without an error, and every number the
/// lesson quotes (`# expect:` lines) is in the output of its command.
@Suite("Lessons")
struct LessonTests {
    static let root = ProjectFiles.root
    static let lessons = LessonCatalog.all(root: root)

    @Test("the lessons folder has the course")
    func catalog() {
        #expect(Self.lessons.count >= 11, "found \(Self.lessons.count) lessons under \(Self.root)/lessons")
        for lesson in Self.lessons { #expect(!lesson.steps.isEmpty, "lesson \(lesson.number) has no REPL block") }
    }

    @Test("each lesson runs and prints the numbers it quotes", arguments: lessons.map(\.number))
    func lessonRuns(number: String) {
        let lesson = Self.lessons.first { $0.number == number }!
        let interpreter = Interpreter(session: Session(projectRoot: Self.root))
        for (k, step) in lesson.steps.enumerated() {
            let reply = interpreter.execute(step.command)
            let output = reply.lines.joined(separator: "\n")
            #expect(!reply.isError, "lesson \(number) step \(k + 1) '\(step.command)': \(output)")
            for expected in step.expectations {
                #expect(output.contains(expected), "lesson \(number) step \(k + 1) '\(step.command)': expected '\(expected)' in:\n\(output)")
            }
        }
    }

    @Test("'lesson N' steps through the same commands with Enter")
    func steppingThrough() throws {
        guard let lesson = Self.lessons.first else { return }
        let interpreter = Interpreter(session: Session(projectRoot: Self.root))
        let start = interpreter.execute("lesson \(lesson.number)")
        #expect(!start.isError)
        var ran = 0
        while interpreter.session.lessonProgress != nil {
            let reply = interpreter.execute("")
            #expect(reply.lines.first == "grpo> \(lesson.steps[ran].command)")
            ran += 1
            if ran > lesson.steps.count { break }
        }
        #expect(ran == lesson.steps.count)
    }

    /// Symbols a lesson cites in backticks, such as `Naive.tokenRatio` or `Vectorized.breakdown`.
    static func citedSymbols(_ text: String) -> [(type: String, member: String)] {
        var result: [(String, String)] = []
        for piece in text.split(separator: "`").enumerated() where piece.offset % 2 == 1 {
            let s = String(piece.element)
            let parts = s.split(separator: ".")
            guard parts.count == 2, let first = parts[0].first, first.isUppercase,
                  parts.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } || $0.hasSuffix(")") }) else { continue }
            let member = parts[1].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            guard !member.isEmpty else { continue }
            result.append((String(parts[0]), String(member)))
        }
        return result
    }

    @Test("every Swift symbol a lesson cites exists in Sources (or, for an exercise, in exercises/Sources)")
    func citedSymbolsExist() throws {
        var sources: [String] = []
        for folder in ["/Sources/", "/exercises/Sources/"] {
            let enumerator = FileManager.default.enumerator(atPath: Self.root + folder)
            while let path = enumerator?.nextObject() as? String {
                if path.hasSuffix(".swift") { sources.append(try String(contentsOfFile: Self.root + folder + path, encoding: .utf8)) }
            }
        }
        let all = sources.joined(separator: "\n")
        var checked = 0
        for file in LessonCatalog.files(root: Self.root) + ["README.md"] {
            let text = try String(contentsOfFile: Self.root + "/lessons/" + file, encoding: .utf8)
            for (type, member) in Self.citedSymbols(text) {
                let typeDeclared = ["enum \(type)", "struct \(type)", "class \(type)", "extension \(type)", "protocol \(type)"]
                    .contains { all.contains($0 + " ") || all.contains($0 + ":") || all.contains($0 + "<") }
                let forms = member == "init" ? ["init("]
                    : ["func \(member)(", "func \(member)<", "var \(member):", "var \(member) ", "let \(member):",
                       "let \(member) ", "case \(member)", "enum \(member):", "struct \(member):", "enum \(member) ", "struct \(member) "]
                let memberDeclared = forms.contains { all.contains($0) }
                #expect(typeDeclared && memberDeclared, "lessons/\(file) cites `\(type).\(member)`, which is not declared in Sources")
                checked += 1
            }
        }
        #expect(checked > 0)
    }
}
