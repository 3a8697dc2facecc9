import Glibc
import Synchronization

/// Ctrl-C, as a flag: while a command runs, SIGINT only asks it to stop.
///
/// `install()` replaces the default SIGINT action (terminate the process) with a handler that
/// sets `requested`. Long commands poll it between steps:
///
///     Interrupt.install()
///     ...
///     Interrupt.clear()
///     session.train(steps: 500, shouldStop: { Interrupt.requested })
///
/// The handler is installed without `SA_RESTART`, so a blocking `read` or `poll` returns
/// `EINTR`: that is how `ReadlineReader` and `PlainReader` notice Ctrl-C while waiting for
/// input (they clear the flag themselves).
enum Interrupt {
    /// The flag the SIGINT handler sets. A global because a C signal handler cannot capture
    /// context; a lock-free atomic because that is all a signal handler may safely touch.
    /// Initialised eagerly by `install()` before the handler can run.
    private static let flag = Atomic<Bool>(false)

    /// Installs the SIGINT handler. Call once at start-up, before reading input.
    static func install() {
        flag.store(false, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            Interrupt.flag.store(true, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: interrupt blocking reads
        sigaction(SIGINT, &action, nil)
        unblock(SIGINT)
    }

    /// A parent may start us with the signal blocked (a test runner's thread does): then the
    /// handler would never run and Ctrl-C would do nothing.
    static func unblock(_ signal: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Whether Ctrl-C was pressed since the last `clear()`.
    static var requested: Bool {
        flag.load(ordering: .relaxed)
    }

    /// Forgets an earlier Ctrl-C; call before starting a command that polls `requested`.
    static func clear() {
        flag.store(false, ordering: .relaxed)
    }
}

/// Ctrl-Z while `ReadlineReader` waits for a key.
///
/// Readline puts the terminal in its own mode, which must be undone before the process stops
/// and redone when it continues (`fg`). So during `readLine` SIGTSTP only sets a flag, and the
/// reader suspends the process itself; at all other times SIGTSTP keeps its default action.
enum Suspend {
    /// The flag the SIGTSTP handler sets. A global lock-free atomic for the same reasons as
    /// `Interrupt.flag`; initialised by `catchSignal()` before the handler can run.
    private static let flag = Atomic<Bool>(false)

    /// Makes SIGTSTP set the flag instead of stopping the process.
    static func catchSignal() {
        flag.store(false, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            Suspend.flag.store(true, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGTSTP, &action, nil)
        Interrupt.unblock(SIGTSTP)
    }

    /// Gives SIGTSTP its default action (stop the process) again.
    static func restoreDefault() {
        signal(SIGTSTP, SIG_DFL)
    }

    /// Whether Ctrl-Z was pressed since `catchSignal()` or the last `take()`; clears the flag.
    static func take() -> Bool {
        flag.exchange(false, ordering: .relaxed)
    }
}
