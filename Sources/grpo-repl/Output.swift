import Glibc

/// Writes `text` and a newline to standard output, immediately (no buffering).
///
/// When the reader of a pipe has gone away (`grpo-repl ... | head`), the process exits quietly
/// with status 0 instead of dying of SIGPIPE.
func emit(_ text: String) {
    Output.write(text + "\n", to: STDOUT_FILENO)
}

/// Writes `text` and a newline to standard error, immediately.
func emitError(_ text: String) {
    Output.write(text + "\n", to: STDERR_FILENO)
}

/// The terminal's width in columns, or nil when standard output is not a terminal (or it does
/// not say).
func terminalColumns() -> Int? {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}

/// Unbuffered writes with `write(2)`, so that output interleaves correctly with readline's
/// and with standard error.
enum Output {
    /// Ignores SIGPIPE so a closed pipe shows up as an `EPIPE` error from `write`.
    private static let ignoreBrokenPipes: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// Writes all of `text` to `descriptor`, retrying after signals and partial writes.
    /// Exits with status 0 on `EPIPE` (the reader has gone, as `... | head` does); any other
    /// error (a full disk, a closed descriptor) exits with status 1 and one line on standard
    /// error, as `cat` does, so that a script sees the output is not all there.
    static func write(_ text: String, to descriptor: Int32) {
        _ = ignoreBrokenPipes
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written >= 0 {
                bytes = bytes.dropFirst(written)
            } else if errno == EPIPE {
                exit(0)
            } else if errno != EINTR {
                failed(descriptor, errno)
            }
        }
    }

    /// Says that writing to `descriptor` failed (on standard error, unless that is what failed)
    /// and exits with status 1.
    private static func failed(_ descriptor: Int32, _ code: Int32) -> Never {
        if descriptor != STDERR_FILENO {
            let name = descriptor == STDOUT_FILENO ? "standard output" : "descriptor \(descriptor)"
            let line = Array("grpo-repl: cannot write to \(name): \(String(cString: strerror(code)))\n".utf8)
            _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
        exit(1)
    }
}
