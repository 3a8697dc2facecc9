// @preconcurrency: readline's settings are C global variables, which Swift 6 cannot
// prove safe; grpo-repl only touches them from the main thread.
@preconcurrency import CReadline
import Glibc

/// Reads command lines from a terminal with GNU readline: line editing, arrow keys, Ctrl-R
/// search, a persistent history and Tab completion.
///
/// Uses readline's callback interface: `readLine` waits for input with `pselect` and feeds
/// readline one character at a time, so that Ctrl-C (SIGINT, see `Interrupt`) can cancel the
/// line being typed and Ctrl-Z (SIGTSTP, see `Suspend`) can restore the terminal before the
/// process stops. Readline installs no handlers for those; it only handles SIGWINCH (window
/// resizes) while a line is being read. The terminal is in readline's mode only inside
/// `readLine`.
///
/// Readline's state is global, so there can be only one `ReadlineReader`.
final class ReadlineReader: LineReader {
    /// `~/.grpo_repl_history`, or `nil` (no history file) if `HOME` is not set.
    static var defaultHistoryFile: String? {
        getenv("HOME").map { String(cString: $0) + "/.grpo_repl_history" }
    }

    private var history: ReadlineHistory

    /// - Parameters:
    ///   - historyFile: the history file (created when the first line is entered), or `nil`.
    ///   - historyLimit: how many lines the history keeps.
    ///   - completions: candidates for Tab completion.
    ///   - wantsFiles: whether Tab should complete a file name instead.
    init(
        historyFile: String? = ReadlineReader.defaultHistoryFile,
        historyLimit: Int = 1000,
        completions: @escaping CompletionProvider = { _, _, _ in [] },
        wantsFiles: @escaping FileCompletionPredicate = { _, _ in false }
    ) {
        precondition(readlineState == nil, "readline is global: only one ReadlineReader at a time")
        readlineState = ReadlineCallbackState(completions: completions, wantsFiles: wantsFiles)
        Interrupt.install()
        rl_catch_signals = 0
        rl_catch_sigwinch = 1
        rl_persistent_signal_handlers = 1
        // Conditional sections of ~/.inputrc can test `$if grpo`.
        rl_readline_name = Self.cString("grpo")
        // `=` ends a word too, so that `set loss_type=<Tab>` completes the value.
        rl_completer_word_break_characters = Self.cString(" \t\n=")
        rl_attempted_completion_function = { ReadlineCallbacks.attemptCompletion($0, $1, $2) }
        // Matches are listed as `attemptCompletion` orders them: lesson numbers by value.
        rl_sort_completion_matches = 0
        rl_initialize() // reads ~/.inputrc and sets up the terminal streams
        history = ReadlineHistory(path: historyFile, limit: historyLimit)
    }

    deinit {
        readlineState = nil
    }

    func readLine(prompt: String) -> LineResult {
        Interrupt.clear()
        Suspend.catchSignal()
        defer { Suspend.restoreDefault() }
        readlineState?.result = nil
        using_history() // start browsing history at its end
        rl_reset_screen_size() // the window may have been resized while a command ran
        rl_callback_handler_install(Self.ignoringEscapes(prompt)) { ReadlineCallbacks.lineHandler($0) }
        while true {
            if let result = readlineState?.result {
                if case .line(let line) = result { history.add(line) }
                return result
            }
            switch waitForInput() {
            case .input:
                rl_callback_read_char()
            case .interrupt:
                cancelLine()
                return .interrupted
            case .suspend:
                suspend()
            case .otherSignal:
                rl_check_signals() // a pending SIGWINCH: redraw for the new width
            case .closed:
                rl_callback_handler_remove()
                return .endOfInput
            }
        }
    }

    private enum Wakeup {
        case input, interrupt, suspend, otherSignal, closed
    }

    /// Waits for a key, Ctrl-C, Ctrl-Z or another signal.
    ///
    /// SIGINT and SIGTSTP are blocked between checking their flags and waiting, and the wait
    /// (`pselect`) unblocks them atomically, so a signal arriving in between cannot be missed.
    private func waitForInput() -> Wakeup {
        var flagged = sigset_t(), original = sigset_t()
        sigemptyset(&flagged)
        sigaddset(&flagged, SIGINT)
        sigaddset(&flagged, SIGTSTP)
        pthread_sigmask(SIG_BLOCK, &flagged, &original)
        defer { pthread_sigmask(SIG_SETMASK, &original, nil) }

        if let signal = flaggedSignal() { return signal }
        // A hang-up also counts as readable: readline then reads end of input.
        if grpo_wait_readable(STDIN_FILENO, &original) >= 0 { return .input }
        if errno != EINTR { return .closed }
        return flaggedSignal() ?? .otherSignal
    }

    /// `.interrupt` or `.suspend` if Ctrl-C or Ctrl-Z was pressed.
    private func flaggedSignal() -> Wakeup? {
        if Interrupt.requested { return .interrupt }
        if Suspend.take() { return .suspend }
        return nil
    }

    /// Stops the process after Ctrl-Z with the terminal as the shell expects it, and puts back
    /// readline's terminal mode and the line being edited when it continues.
    private func suspend() {
        rl_cleanup_after_signal()
        Suspend.restoreDefault()
        raise(SIGTSTP) // returns after `fg`
        Suspend.catchSignal()
        rl_reset_after_signal()
        rl_forced_update_display()
    }

    /// Drops the line being edited after Ctrl-C, shows `^C` after it and restores the terminal.
    private func cancelLine() {
        Interrupt.clear()
        rl_free_line_state()
        rl_callback_sigcleanup() // leaves Ctrl-R search and the like, redrawing the line
        rl_point = rl_end
        rl_redisplay()
        rl_echo_signal_char(SIGINT)
        rl_crlf()
        fflush(rl_outstream)
        rl_callback_handler_remove()
    }

    /// Marks ANSI escape sequences in a prompt as invisible (between `\u{1}` and `\u{2}`), so
    /// that readline computes the prompt's width correctly when it is styled.
    static func ignoringEscapes(_ prompt: String) -> String {
        var result = ""
        var inEscape = false
        for character in prompt {
            if character == "\u{1B}" {
                inEscape = true
                result += "\u{1}"
            }
            result.append(character)
            if inEscape && character.isLetter {
                inEscape = false
                result += "\u{2}"
            }
        }
        return result
    }

    /// A C string that lives for the rest of the process, for readline's `const char *`
    /// settings (which are read, never freed).
    private static func cString(_ text: String) -> UnsafePointer<CChar> {
        UnsafePointer(strdup(text))
    }
}
