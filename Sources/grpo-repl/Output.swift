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
    /// Exits with status 0 on `EPIPE`; other errors (a full disk, a closed terminal) drop the
    /// rest of the text, since there is nowhere left to report them.
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
                return
            }
        }
    }
}
