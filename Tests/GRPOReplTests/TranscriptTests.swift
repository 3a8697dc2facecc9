import Foundation
import Testing

/// Scripted sessions piped through the built grpo-repl, compared with the transcripts stored
/// beside them (Transcripts/NAME.in -> NAME.out). Output is deterministic for a seed, so any
/// difference is a change in what a learner sees: review it, then regenerate the .out files
/// with GRPO_UPDATE_TRANSCRIPTS=1 swift test --filter TranscriptTests.
@Suite("Transcripts of scripted sessions")
struct TranscriptTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Transcripts")
    static let names = ["first-session", "training", "mistakes"]

    @Test("piped session matches its transcript", arguments: names)
    func transcript(name: String) throws {
        let input = try String(contentsOf: Self.directory.appendingPathComponent(name + ".in"), encoding: .utf8)
        let result = try Executable.run([], input: input)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
        let expectedURL = Self.directory.appendingPathComponent(name + ".out")
        if ProcessInfo.processInfo.environment["GRPO_UPDATE_TRANSCRIPTS"] != nil {
            try Data(result.stdout.utf8).write(to: expectedURL)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        let got = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for (k, (g, w)) in zip(got, want).enumerated() where g != w {
            Issue.record("\(name) line \(k + 1):\n  got:  \(g)\n  want: \(w)")
            return
        }
        #expect(got.count == want.count, "\(name): \(got.count) lines, transcript has \(want.count)")
    }

    @Test("every command is echoed after the prompt, so the transcript reads like a session")
    func echo() throws {
        let result = try Executable.run([], input: "help quit\nquit\nexample\n")
        #expect(result.stdout.hasPrefix("grpo> help quit\nquit\n  leave"))
        #expect(!result.stdout.contains("grpo> example"), "quit stops reading")
    }

    @Test("--script FILE runs the file; a missing file is an error with exit code 2")
    func script() throws {
        let path = try Executable.temporaryFile("s.txt", "example\nloss\n")
        let result = try Executable.run(["--script", path])
        #expect(result.status == 0 && result.stdout.contains("grpo> loss"))
        let missing = try Executable.run(["--script", "/nonexistent/s.txt"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/s.txt"))
    }

    @Test("same input, same output: a seed reproduces a training session exactly")
    func deterministic() throws {
        let input = "new 5\ntrain 20\nhistory 3\n"
        let a = try Executable.run([], input: input), b = try Executable.run([], input: input)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.contains("grpo> history 3"))
    }
}
