import Foundation

/// Runs the built `grpo-repl` (next to this test bundle in .build/<config>/) with arguments and
/// standard input, and returns what it printed and its exit status.
struct Executable {
    struct Result {
        var stdout: String
        var stderr: String
        var status: Int32
        var reason: Process.TerminationReason = .exit
    }

    static var url: URL { url(of: "grpo-repl") }

    /// A program built beside the test bundle: grpo-repl or grpo-bench.
    static func url(of program: String) -> URL {
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var dir = me.deletingLastPathComponent()
        // The test binary may sit inside an .xctest bundle directory.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(program).path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent(program)
    }

    static func run(_ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> Result {
        try run(arguments, bytes: Data(input.utf8), environment: environment)
    }

    /// Runs grpo-repl with `bytes` on standard input (none: /dev/null), reading both outputs to
    /// the end while it runs so a large output cannot block it; `whileRunning` may act on the
    /// process meanwhile (e.g. interrupt it, as Ctrl-C does).
    static func run(_ arguments: [String], bytes: Data?, environment: [String: String] = [:], program: String = "grpo-repl",
                    whileRunning: ((Process) -> Void)? = nil) throws -> Result {
        let process = Process()
        process.executableURL = url(of: program)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = FileManager.default.temporaryDirectory.path  // keep history files out of the user's home
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = bytes == nil ? FileHandle.nullDevice : stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        group.enter()
        DispatchQueue.global().async { out = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if let bytes {
            stdin.fileHandleForWriting.write(bytes)
            try stdin.fileHandleForWriting.close()
        }
        whileRunning?(process)
        group.wait()
        process.waitUntilExit()
        return Result(stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                      status: process.terminationStatus, reason: process.terminationReason)
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
