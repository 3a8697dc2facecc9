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

    /// The names declared in Swift source: each word after a declaring keyword (`func`, `var`,
    /// `let`, `case`, `enum`, `struct`, `class`, `extension`, `protocol`), by keyword, and
    /// whether `init` is declared. One pass over the text, so the lookups are set lookups.
    static func declarations(_ source: String) -> [String: Set<String>] {
        let keywords: Set<Substring> = ["func", "var", "let", "case", "enum", "struct", "class", "extension", "protocol", "init"]
        var found: [String: Set<String>] = [:]
        var previous: Substring = ""
        for word in source.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
            if keywords.contains(previous) { found[String(previous), default: []].insert(String(word)) }
            if word == "init" { found["init", default: []].insert("init") }
            previous = word
        }
        return found
    }

    @Test("every Swift symbol a lesson cites exists in Sources (or, for an exercise, in exercises/Sources)")
    func citedSymbolsExist() throws {
        var declared: [String: Set<String>] = [:]
        for folder in ["/Sources/", "/exercises/Sources/"] {
            let enumerator = FileManager.default.enumerator(atPath: Self.root + folder)
            while let path = enumerator?.nextObject() as? String {
                guard path.hasSuffix(".swift") else { continue }
                let source = try String(contentsOfFile: Self.root + folder + path, encoding: .utf8)
                declared.merge(Self.declarations(source)) { $0.union($1) }
            }
        }
        func has(_ keywords: [String], _ name: String) -> Bool { keywords.contains { declared[$0]?.contains(name) == true } }
        var checked = 0
        for file in LessonCatalog.files(root: Self.root) + ["README.md"] {
            let text = try String(contentsOfFile: Self.root + "/lessons/" + file, encoding: .utf8)
            for (type, member) in Self.citedSymbols(text) {
                let typeDeclared = has(["enum", "struct", "class", "extension", "protocol"], type)
                let memberDeclared = member == "init" ? has(["init"], "init") : has(["func", "var", "let", "case", "enum", "struct"], member)
                #expect(typeDeclared && memberDeclared, "lessons/\(file) cites `\(type).\(member)`, which is not declared in Sources")
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    @Test("declarations: the word after each declaring keyword, nothing else")
    func declarationsFound() {
        let found = Self.declarations("public enum Naive {\n    static func tokenRatio(_ x: Int) -> Int { let y = x }\n    case a, b\n}")
        #expect(found["enum"] == ["Naive"] && found["func"] == ["tokenRatio"] && found["let"] == ["y"] && found["case"] == ["a"])
        #expect(found["struct"] == nil && found["init"] == nil)
    }
}
