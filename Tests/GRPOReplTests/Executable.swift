import Foundation

/// Runs the built `grpo-repl` (next to this test bundle in .build/<config>/) with arguments and
/// standard input, and returns what it printed and its exit status.
struct Executable {
    struct Result {
        var stdout: String
        var stderr: String
        var status: Int32
    }

    static var url: URL {
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var dir = me.deletingLastPathComponent()
        // The test binary may sit inside an .xctest bundle directory.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("grpo-repl").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("grpo-repl")
    }

    static func run(_ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = FileManager.default.temporaryDirectory.path  // keep history files out of the user's home
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        group.enter()
        DispatchQueue.global().async { out = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        err = stderr.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                      status: process.terminationStatus)
    }

    /// A file with `text` in it, in one temporary directory per test process that is removed
    /// when the process exits.
    static func temporaryFile(_ name: String, _ text: String) throws -> String {
        let url = scratch.appendingPathComponent("\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    static let scratch: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Executable.scratch) }
        return dir
    }()
}
