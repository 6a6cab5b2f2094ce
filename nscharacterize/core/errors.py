"""The one error type for mistakes a user can fix: bad configs, rule files, run directories,
baselines, history stores and options.

Every such failure carries *where* (the file or option), *which key*, *what is wrong* and *how to
fix it*, and ``nscharacterize.cli.main`` prints it as one line and exits with status 2. Anything
else that escapes is a bug and keeps its traceback (exit 1). Stages define subclasses only to
name their origin (``ConfigError``, ``RunDirError``, ...); they add no behaviour.
See docs/architecture.md, "Errors".
"""
from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A failure caused by input: ``file: key: what; fix`` on one line."""

    def __init__(self, file: str | Path | None, key: str | None, what: str, fix: str = ""):
        self.file = str(file) if file is not None else ""
        self.key = key or ""
        self.what = what
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        where = ": ".join(p for p in (self.file, self.key) if p)
        text = f"{where}: {self.what}" if where else self.what
        return f"{text}; {self.fix}" if self.fix else text

    def located(self, file: str | Path | None = None, key_prefix: str = "") -> "UserError":
        """The same error, placed inside ``file`` under ``key_prefix`` (e.g. a config entry)."""
        key = ".".join(p for p in (key_prefix, self.key) if p)
        return _rebuild(type(self), str(file) if file is not None else self.file, key, self.what, self.fix)

    def __reduce__(self):  # picklable across processes (sweeps, Ray), whatever a subclass's init takes
        return (_rebuild, (type(self), self.file, self.key, self.what, self.fix))


def _rebuild(cls: type[UserError], file: str, key: str, what: str, fix: str) -> UserError:
    err = cls.__new__(cls)
    UserError.__init__(err, file or None, key, what, fix)
    return err


def key_path(loc) -> str:
    """A key's path written the one way every message writes it: ``workloads[0].params.batch``
    (pydantic's location tuples say ``('workloads', 0, 'params', 'batch')``)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal other than Ctrl-C (SIGTERM from ``kill``, CI timeouts and
    schedulers; SIGHUP from a closed terminal). ``nscharacterize.cli`` raises it from the signal
    handler, so every stage stops exactly as on Ctrl-C, and exits with 128 + the signal number."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)
