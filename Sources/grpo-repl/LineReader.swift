import Glibc

/// What one attempt to read a command line produced.
enum LineResult: Equatable {
    /// A line, without its line terminator.
    case line(String)
    /// Ctrl-C: the line being typed was dropped; show a fresh prompt.
    case interrupted
    /// Ctrl-D on an empty line, or the end of the input: quit.
    case endOfInput
}

/// A source of command lines: the terminal (`ReadlineReader`) or a pipe or script file
/// (`PlainReader`). Pick one with `makeLineReader`.
protocol LineReader: AnyObject {
    /// Reads the next line, showing `prompt` first (or echoing it, for `PlainReader`).
    func readLine(prompt: String) -> LineResult
}

/// A script file that could not be opened.
struct ScriptOpenError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot open \(path): \(reason)" }
}

/// The reader for this process: lines from `script` if given, GNU readline when standard
/// input and output are both terminals, plain standard input otherwise (with echo, so that
/// `grpo-repl < commands.txt` prints a readable transcript).
///
/// - Parameters:
///   - script: a file of commands (`--script FILE`), read to its end and echoed.
///   - historyFile: where readline keeps its history; `nil` keeps it in memory only.
///   - completions: the Tab completion candidates, see `ReadlineReader.init`.
///   - wantsFiles: whether Tab should complete file names, see `ReadlineReader.init`.
func makeLineReader(
    script: String? = nil,
    historyFile: String? = ReadlineReader.defaultHistoryFile,
    completions: @escaping CompletionProvider = { _, _, _ in [] },
    wantsFiles: @escaping FileCompletionPredicate = { _, _ in false }
) throws(ScriptOpenError) -> any LineReader {
    if let script {
        return try PlainReader(path: script, echo: true)
    }
    if isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 {
        return ReadlineReader(historyFile: historyFile, completions: completions, wantsFiles: wantsFiles)
    }
    return PlainReader(descriptor: STDIN_FILENO, echo: true)
}

/// Reads lines from a file descriptor without any line editing.
///
/// Bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD, lines may be of any
/// length, a final line without a newline is still a line, and a trailing `\r` is dropped.
/// Ctrl-C while blocked in `read` (a terminal whose output is piped) returns `.interrupted`.
final class PlainReader: LineReader {
    /// When true, each line is written to standard output after the prompt before it is
    /// returned, so the output reads like an interactive session.
    let echo: Bool
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    /// Bytes read but not yet returned, from `start` on.
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where to continue looking for a newline: everything before it has been searched.
    private var searched = 0
    private var reachedEnd = false

    init(descriptor: Int32, echo: Bool) {
        self.descriptor = descriptor
        self.ownsDescriptor = false
        self.echo = echo
        Interrupt.install()
    }

    init(path: String, echo: Bool) throws(ScriptOpenError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ScriptOpenError(path: path, reason: String(cString: strerror(errno)))
        }
        // A directory opens, then reads as nothing: say so instead of running no commands.
        var info = stat()
        if fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw ScriptOpenError(path: path, reason: "is a directory")
        }
        self.descriptor = descriptor
        self.ownsDescriptor = true
        self.echo = echo
        Interrupt.install()
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    func readLine(prompt: String) -> LineResult {
        while true {
            if let newline = buffer[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                return deliver(upTo: newline, skipping: 1, prompt: prompt)
            }
            searched = buffer.count
            if reachedEnd {
                return start < buffer.count ? deliver(upTo: buffer.count, skipping: 0, prompt: prompt) : .endOfInput
            }
            if !fill() { return .interrupted }
        }
    }

    /// Reads more bytes into the buffer, first dropping the ones already returned, and notes
    /// the end of the input. Returns false if Ctrl-C interrupted the read.
    private func fill() -> Bool {
        buffer.removeFirst(start)
        searched -= start
        start = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            buffer += chunk[..<count]
        } else if count == 0 || errno != EINTR {
            reachedEnd = true // end of file, or an error that reading again will not fix
        } else if Interrupt.requested {
            Interrupt.clear()
            buffer.removeAll() // the terminal drops a partly typed line on Ctrl-C, so do we
            searched = 0
            return false
        }
        return true
    }

    /// Returns the bytes from `start` to `end` as a line and moves past its terminator.
    private func deliver(upTo end: Int, skipping terminator: Int, prompt: String) -> LineResult {
        var bytes = buffer[start..<end]
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        start = end + terminator
        searched = start
        let line = String(decoding: bytes, as: UTF8.self)
        if echo { emit(prompt + line) }
        return .line(line)
    }
}
