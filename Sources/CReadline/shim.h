// GNU readline (GPL-3) for grpo-repl. Debian: apt-get install libreadline-dev.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>
