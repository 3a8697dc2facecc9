// @preconcurrency: readline's settings are C global variables, which Swift 6 cannot
// prove safe; grpo-repl only touches them from the main thread.
@preconcurrency import CReadline
import Glibc

/// The candidate words for Tab completion.
///
/// - Parameters:
///   - line: the whole line typed so far.
///   - wordStart: the index (in `Character`s) where the word being completed starts; words
///     end at spaces, tabs and `=`.
///   - cursor: the index (in `Character`s) of the cursor.
/// - Returns: the words that fit at that position; those not starting with the part of the
///   word already typed are dropped, so a provider may simply return every possibility.
typealias CompletionProvider = (_ line: String, _ wordStart: Int, _ cursor: Int) -> [String]

/// Whether the word starting at `wordStart` (in `Character`s) in `line` is a file name, to be
/// completed by readline's own filename completion instead of a `CompletionProvider`.
typealias FileCompletionPredicate = (_ line: String, _ wordStart: Int) -> Bool

/// What readline's C callbacks need from `ReadlineReader`.
struct ReadlineCallbackState {
    var completions: CompletionProvider
    var wantsFiles: FileCompletionPredicate
    /// The matches of the completion in progress, handed to readline one at a time.
    var pendingMatches: [String] = []
    /// Set by the line handler when a line is complete (or at end of input).
    var result: LineResult?
}

/// The state of the (only) `ReadlineReader`.
///
/// Readline calls back through C function pointers, which cannot capture a Swift context, so
/// the callbacks find their state here. `nonisolated(unsafe)` is sound because everything
/// runs on the main thread: `ReadlineReader` sets it, and readline invokes the callbacks
/// synchronously from inside `rl_callback_read_char()`. Never touched by signal handlers.
nonisolated(unsafe) var readlineState: ReadlineCallbackState?

/// The C callbacks given to readline.
enum ReadlineCallbacks {
    /// Called by `rl_callback_read_char()` when Enter completes a line (`line` is malloc'ed,
    /// ours to free) or at end of input (`line` is NULL). Stops reading until the next
    /// `rl_callback_handler_install`.
    static func lineHandler(_ line: UnsafeMutablePointer<CChar>?) {
        rl_callback_handler_remove()
        // String(cString:) replaces invalid UTF-8 with U+FFFD.
        readlineState?.result = line.map { .line(String(cString: $0)) } ?? .endOfInput
        free(line)
    }

    /// `rl_attempted_completion_function`: asks the `CompletionProvider` (or readline's
    /// filename completion, when `wantsFiles` says so) for matches of `text`, the word
    /// between the byte offsets `start` and `end` of `rl_line_buffer`.
    static func attemptCompletion(
        _ text: UnsafePointer<CChar>?, _ start: Int32, _: Int32
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        // Never fall back to readline's default (filename) completion unless asked to.
        rl_attempted_completion_over = 1
        guard let state = readlineState, let text else { return nil }
        let bytes = UnsafeBufferPointer(start: rl_line_buffer, count: Int(rl_end)).map { UInt8(bitPattern: $0) }
        let characters = { (end: Int32) in String(decoding: bytes[..<Int(end)], as: UTF8.self).count }
        let line = String(decoding: bytes, as: UTF8.self)
        if state.wantsFiles(line, characters(start)) {
            rl_attempted_completion_over = 0
            return nil
        }
        let prefix = String(cString: text)
        readlineState?.pendingMatches = state.completions(line, characters(start), characters(rl_point))
            .filter { $0.hasPrefix(prefix) }.sorted(by: inNaturalOrder)
        return rl_completion_matches(text) { _, _ in ReadlineCallbacks.nextMatch() }
    }

    /// Whole numbers by value (lesson 2 before lesson 11), then words in alphabetical order.
    /// Readline lists the matches in this order (`rl_sort_completion_matches` is off).
    static func inNaturalOrder(_ a: String, _ b: String) -> Bool {
        switch (UInt64(a), UInt64(b)) {
        case let (x?, y?): return x < y
        case (_?, nil): return true
        case (nil, _?): return false
        case (nil, nil): return a < b
        }
    }

    /// The generator for `rl_completion_matches`: one malloc'ed match per call, then NULL.
    private static func nextMatch() -> UnsafeMutablePointer<CChar>? {
        guard let match = readlineState?.pendingMatches.first else { return nil }
        readlineState?.pendingMatches.removeFirst()
        return strdup(match)
    }
}
