// GNU readline (GPL-3) for grpo-repl. Debian: apt-get install libreadline-dev.
#include <stdio.h>
#include <signal.h>
#include <sys/select.h>
#include <readline/readline.h>
#include <readline/history.h>

/// Waits until `fd` is readable or a signal is delivered, with the signal mask replaced by
/// `*mask` while waiting (atomically, so a signal blocked until now cannot be missed).
/// Returns like pselect(2): > 0 when readable, -1 with errno EINTR after a signal.
/// (ppoll would do, but it needs _GNU_SOURCE; FD_SET is a macro Swift cannot call.)
static inline int grpo_wait_readable(int fd, const sigset_t *mask) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    return pselect(fd + 1, &readable, NULL, NULL, NULL, mask);
}
