import Foundation
import Glibc
import Testing
@testable import REPLCore

/// What `explain` and `load` refuse to read, at once and with a message naming the path.
@Suite("Input files that are not batch files")
struct InputFileTests {
    @Test("a FIFO is refused without opening it (opening one waits for a writer forever); so is a device")
    func notRegular() {
        let directory = TemporaryDirectory("grpo-input")
        defer { directory.remove() }
        let fifo = directory.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: InputError("\(fifo): is a FIFO (a named pipe), not a regular file")) { try InputFile.read(fifo) }
        #expect(throws: InputError("/dev/null: is a character device, not a regular file")) { try InputFile.read("/dev/null") }
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(interpreter.execute("load \(fifo)").lines == ["error: \(fifo): is a FIFO (a named pipe), not a regular file"])
    }

    @Test("one byte over the limit says so in bytes, not '64 MB is larger than the 64 MB'")
    func justOver() throws {
        let directory = TemporaryDirectory("grpo-input")
        defer { directory.remove() }
        let path = directory.file("big.json")
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(InputFile.defaultLimit + 1))  // sparse: nothing written
        try handle.close()
        #expect(throws: InputError("\(path): 67108865 bytes is larger than the 64 MB this reads")) { try InputFile.read(path) }
    }
}

@Suite("A metric that overflows from finite inputs")
struct MetricOverflowTests {
    @Test("entropies of 1e308 average to inf: a warning says so, in text and with --json (whose value is null)")
    func entropyOverflow() {
        let directory = TemporaryDirectory("grpo-overflow")
        defer { directory.remove() }
        // Three tokens of entropy 1e308: their sum, 3e308, is past the double range.
        let path = directory.write("b.json", #"""
        {"config": {"beta": 0}, "groups": [{"rewards": [1, 0], "completions": [
          {"logp": [-1.0, -1.0], "entropy": [1e308, 1e308]}, {"logp": [-2.0], "entropy": [1e308]}]}]}
        """#)
        let warning = "warning: entropy is inf: its inputs give no finite value in doubles (the loss is finite); --json writes null for it"
        #expect(ExplainCommand.run([path]).errors.contains(warning))
        let json = ExplainCommand.run([path, "--json"])
        #expect(json.errors.contains(warning) && json.output.contains("\"entropy\": null"), "\(json.output.prefix(400))")
    }
}
