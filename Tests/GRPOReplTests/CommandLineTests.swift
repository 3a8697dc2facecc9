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

    @Test("bare 'grpo-repl lesson' and 'grpo-repl --script': one error line on stderr naming what is missing, exit code 2",
          arguments: [("lesson", "error: missing expected argument '<n>'; 'grpo-repl lesson --help' shows the usage"),
                      ("--script", "error: missing value for '--script <file>'; 'grpo-repl --help' shows the usage")])
    func missingArgument(argument: String, message: String) throws {
        let result = try Executable.run([argument])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        #expect(result.stderr == message + "\n", "stderr: \(result.stderr)")
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

/// The command lines as ArgumentParser reads them: every form the README shows, help for each
/// subcommand, and shell completion scripts.
@Suite("Command-line forms")
struct CommandLineFormTests {
    @Test("--help of grpo-repl, each subcommand and grpo-bench: exit 0, the usage, every line within 80 columns",
          arguments: [["--help"], ["explain", "--help"], ["lesson", "--help"], ["repl", "--help"], ["help", "explain"]])
    func help(arguments: [String]) throws {
        let result = try Executable.run(arguments)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("OVERVIEW: ") && result.stdout.contains("USAGE: grpo-repl"))
        let long = result.stdout.split(separator: "\n").filter { $0.count > 80 }
        #expect(long.isEmpty, "\(long)")
    }

    @Test("--flag=value and --flag value give the same explain")
    func equalsForm() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent("lessons/data/example-batch.json").path
        let spaced = try Executable.run(["explain", file, "--preset", "trl", "--set", "beta=0.1"])
        let joined = try Executable.run(["explain", file, "--preset=trl", "--set=beta=0.1"])
        #expect(spaced.status == 0 && spaced.stdout.contains("beta=0.1"), "\(spaced.stderr)")
        #expect(joined.stdout == spaced.stdout && joined.status == 0)
    }

    @Test("completion scripts for bash, zsh and fish name the subcommands, the flags and the presets",
          arguments: ["bash", "zsh", "fish"])
    func completionScripts(shell: String) throws {
        let result = try Executable.run(["--generate-completion-script", shell])
        #expect(result.status == 0 && result.stderr.isEmpty)
        for word in ["explain", "lesson", "script", "preset", "deepseekmath", "json"] {
            #expect(result.stdout.contains(word), "\(shell): no '\(word)'")
        }
        let bench = try Executable.run(["--generate-completion-script", shell], bytes: nil, program: "grpo-bench")
        #expect(bench.status == 0 && bench.stdout.contains("only") && bench.stdout.contains("dr_grpo"))
    }

    @Test("grpo-bench: --flag=value as --flag value, mistakes exit 2 with one line naming the flag")
    func bench() throws {
        let help = try Executable.run(["--help"], bytes: nil, program: "grpo-bench")
        #expect(help.status == 0 && help.stdout.contains("--only <list>"))
        for (args, message) in [(["--only=nope"], "grpo-bench: --only: unknown section 'nope'; sections are loss_grad,naive,breakdown,explain,training\n"),
                                (["--only", "nope"], "grpo-bench: --only: unknown section 'nope'; sections are loss_grad,naive,breakdown,explain,training\n"),
                                (["--beta=inf"], "grpo-bench: --beta inf is out of range 0...1000000\n"),
                                (["--bogus"], "grpo-bench: unknown option '--bogus'; 'grpo-bench --help' shows every flag\n")] {
            let result = try Executable.run(args, bytes: nil, program: "grpo-bench")
            #expect(result.status == 2 && result.stdout.isEmpty && result.stderr == message, "\(args): \(result.stderr)")
        }
    }
}
