"""The exit statuses of every command: the one table (docs/architecture.md, "Errors").

0 done; 1 a workload failed, a sweep point failed, or (gate commands) a regression; 2 bad input
(one line naming the file or option, the key and the fix); 3 (gate commands) inconclusive;
128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). Anything else is a bug:
Python's traceback and exit 1.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def exit_for_signal(signum: int) -> int:
    return 128 + int(signum)
