// @preconcurrency: readline's settings are C global variables, which Swift 6 cannot
// prove safe; grpo-repl only touches them from the main thread.
@preconcurrency import CReadline
import Glibc

/// Readline's history list, kept in a file that survives crashes: loaded once, then every
/// entered line is appended to the file as soon as it is entered.
struct ReadlineHistory {
    /// The history file, or `nil` to keep history in memory only (also when the path is not a
    /// regular file: opening a FIFO for writing would wait for a reader forever).
    let path: String?
    /// At most this many lines are kept, in memory and in the file.
    let limit: Int
    /// Whether a failure to write the file was reported (it is reported once).
    private var warned = false

    /// Loads the file if it exists (a missing or unreadable file is an empty history) and
    /// trims it to `limit` lines.
    init(path: String?, limit: Int) {
        var info = stat()
        if let path, stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
            emitError("warning: \(path) is not a regular file; history is kept for this session only")
            self.path = nil
        } else {
            self.path = path
        }
        self.limit = limit
        stifle_history(Int32(limit))
        if let path = self.path, access(path, F_OK) == 0 {
            read_history(path)
            history_truncate_file(path, Int32(limit))
        }
    }

    /// Adds `line` (without the trailing space Tab completion leaves) unless it is blank or
    /// repeats the previous entry, and appends it to the file.
    mutating func add(_ typed: String) {
        var trimmed = Substring(typed)
        while trimmed.last?.isWhitespace == true { trimmed.removeLast() }
        let line = String(trimmed)
        guard line.contains(where: { !$0.isWhitespace }), line != previous else { return }
        add_history(line)
        guard let path else { return }
        // append_history does not create the file.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let error = descriptor < 0 ? errno : append_history(1, path)
        if descriptor >= 0 { close(descriptor) }
        if error != 0 && !warned {
            warned = true
            emitError("warning: cannot save history to \(path): \(String(cString: strerror(error)))")
        }
    }

    /// The most recent entry.
    private var previous: String? {
        history_get(history_base + history_length - 1).map { String(cString: $0.pointee.line) }
    }
}
