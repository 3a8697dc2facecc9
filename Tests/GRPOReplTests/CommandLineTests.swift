import Foundation
import Testing
@testable import grpo_repl

/// The command-line forms: errors on stderr in one line, and exit statuses a script can test.
@Suite("Command line")
struct CommandLineTests {
    @Test("'grpo-repl lesson 99': one error line on stderr, nothing on stdout, exit code 2")
    func missingLesson() throws {
        let result = try Executable.run(["lesson", "99"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        #expect(result.stderr.hasPrefix("error: no lesson '99'; lessons are 1, 2,"))
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
    }

    @Test("bare 'grpo-repl lesson' and 'grpo-repl --script': one error line on stderr, exit code 2", arguments: ["lesson", "--script"])
    func missingArgument(argument: String) throws {
        let result = try Executable.run([argument])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        #expect(result.stderr.hasPrefix("error: \(argument) needs a "), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
    }

    @Test("--script exits with 1 when a command failed, 0 when none did, and runs every line either way")
    func scriptStatus() throws {
        let failing = try Executable.temporaryFile("fail.txt", "example\nlos\nloss\n")
        let failed = try Executable.run(["--script", failing])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("error: unknown command 'los'") && failed.stdout.contains("grpo> loss\n"))
        let passing = try Executable.temporaryFile("pass.txt", "example\nloss\n")
        #expect(try Executable.run(["--script", passing]).status == 0)
    }

    @Test("'grpo-repl lesson N' runs the lesson from a fresh session and exits 0")
    func lessonRuns() throws {
        let result = try Executable.run(["lesson", "1"])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.contains("end of lesson 1."))
    }

    @Test("Tab lists whole numbers by value, then words")
    func completionOrder() {
        let sorted = ["10", "stop", "2", "11", "1", "all"].sorted(by: ReadlineCallbacks.inNaturalOrder)
        #expect(sorted == ["1", "2", "10", "11", "all", "stop"])
    }
}
