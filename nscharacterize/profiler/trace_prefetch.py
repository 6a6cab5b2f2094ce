"""Decoding trace files in a worker process, one file ahead of their use.

``import-trace`` spends its first third of a second importing pandas and the tool, and then
decodes the trace (gzip, JSON, columns: nscharacterize/profiler/trace_decode.py), which needs
neither. ``Prefetcher`` forks a worker that decodes the first file the moment the command knows
its files (cli.py starts it before the imports), and, each time a file is taken, the next one
while this process builds the tables of the taken one: with two or more cores the decode is off
the critical path (on a 51 MiB trace, 1.5 s became 1.3 s). At most one file is decoded
ahead, so the memory of at most two traces is held at once (the worker's and this process's).

The worker hands back the decoded columns (flat arrays and each distinct text once, pickled
through a pipe) or the ``TraceError`` itself. Where no worker can be forked (not Linux, other
Python threads running, fork refused) or the variable ``NSCHARACTERIZE_TRACE_WORKER=0`` is set, or a
worker dies without answering (killed), the file is decoded in this process when it is taken:
the same result, without the overlap, and a real error seen whole.

Pandas- and numpy-free, like the decoder: the CLI imports it before pandas (pyproject.toml's
contract "The trace decoder stays light"), and it imports the decoder itself (msgspec) only where
it runs, in the worker, so that the fork does not wait for that import either.
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from nscharacterize.core.errors import UserError

if TYPE_CHECKING:   # imported where used: the worker imports msgspec after the fork,
    from .trace_decode import Decoded  # so that the command's own imports do not wait for them

# Set to 0 to decode every file in the importing process (no worker process).
WORKER_VARIABLE = "NSCHARACTERIZE_TRACE_WORKER"


def can_fork() -> bool:
    """Whether a decode worker may be forked here: Linux (fork is the platform's own way to start a
    process, and cheap), no other Python thread running (a fork copies only the calling thread, and
    a lock another thread held would stay held in the worker), and not turned off by
    ``WORKER_VARIABLE``. Native threads are not counted: the pools numpy's BLAS and pyarrow's
    allocator start register fork handlers, and the worker uses neither."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1
            and os.environ.get(WORKER_VARIABLE, "1") != "0")


class Prefetch:
    """``decode(path)`` in a worker process, started when this is made; ``result()`` waits for it."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._pid = -1
        self._fd = -1
        if not can_fork():
            return
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return
        try:
            with warnings.catch_warnings():   # Python 3.12+ warns of any thread, native ones too: see can_fork
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:   # out of processes or memory: decode here instead
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:
            os.close(read_fd)
            _work(self.path, write_fd)   # never returns
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def result(self) -> Decoded:
        """The decoded columns; raises ``TraceError`` for a file that is not a readable trace
        (``NotATrace`` for a JSON file that is recognisably no trace)."""
        from .trace_decode import decode

        if self._pid < 0:
            return decode(self.path)
        pid, fd = self._pid, self._fd
        self._pid = self._fd = -1
        try:
            with os.fdopen(fd, "rb") as pipe:
                try:   # read as it arrives: the answer is never held twice (as bytes and as arrays)
                    ok, value = pickle.load(pipe)
                except Exception:   # noqa: BLE001 - no answer, or a cut one: the worker died (killed)
                    ok, value = None, None
        except BaseException:   # Ctrl-C, SIGTERM: the worker's answer is not wanted any more
            _stop(pid)
            raise
        os.waitpid(pid, 0)
        if ok is None:   # decode here, where a failure is seen whole
            return decode(self.path)
        if not ok:   # the worker's TraceError (or NotATrace) itself
            raise value
        return value

    def cancel(self) -> None:
        """Stops the worker if it still runs (its answer is not wanted)."""
        if self._pid >= 0:
            os.close(self._fd)
            _stop(self._pid)
            self._pid = self._fd = -1


def _work(path: str, write_fd: int) -> None:
    """The worker: decodes ``path`` and pickles ``(True, Decoded)`` or ``(False, message)`` into the pipe; exits
    without running the parent's exit handlers or flushing its copy of the parent's buffers."""
    status = 0
    try:
        from .trace_decode import TraceError, decode

        with os.fdopen(write_fd, "wb") as pipe:
            answer: tuple[bool, object]
            try:
                answer = (True, decode(path))
            except TraceError as exc:   # the error itself, its class too: a file that is no trace is left
                answer = (False, exc)     # out of a folder (import_trace)
            pickle.dump(answer, pipe, protocol=pickle.HIGHEST_PROTOCOL)   # written as it is pickled
    except BaseException:  # noqa: B036 - a signal or a bug: the parent decodes the file itself and sees it
        status = 1
    finally:
        os._exit(status)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Prefetcher:
    """The decoded files of ``paths``, in order, each decoded one file ahead (``take``). A context
    manager: leaving it stops a worker whose file was not taken (an earlier file failed)."""

    def __init__(self, paths: list[str]):
        self.paths = list(paths)
        self._ahead: dict[int, Prefetch] = {}
        if self.paths:
            self._ahead[0] = Prefetch(self.paths[0])

    def take(self, index: int) -> Decoded:
        """File ``index`` decoded (raises its ``TraceError``); the next one starts decoding once
        this one is done, while the caller builds its tables."""
        current = self._ahead.pop(index, None) or Prefetch(self.paths[index])
        try:
            return current.result()
        finally:
            if index + 1 < len(self.paths) and index + 1 not in self._ahead:
                self._ahead[index + 1] = Prefetch(self.paths[index + 1])

    def close(self) -> None:
        for pending in self._ahead.values():
            pending.cancel()
        self._ahead.clear()

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


TRACE_SUFFIXES = (".json", ".json.gz")


def trace_files(paths: list[str]) -> list[str]:
    """The traces to import: each file as given, and each folder's trace files (.json, .json.gz,
    sorted by name), as HolisticTraceAnalysis takes a folder of one job's rank files. A folder
    without any is an error that says so; its other files (logs, pickles) are left alone."""
    out: list[str] = []
    for p in paths:
        folder = Path(p)
        if not folder.is_dir():
            out.append(p)
            continue
        found = sorted(str(f) for f in folder.iterdir() if f.is_file() and f.name.endswith(TRACE_SUFFIXES))
        if not found:
            raise UserError(p, "", "a folder with no .json or .json.gz file in it",
                            "give the trace files, or the folder that holds them")
        out += found
    return out


_started: Prefetcher | None = None


def start(paths: list[str]) -> None:
    """Starts decoding the first of ``paths`` now (the CLI calls this before importing pandas);
    ``prefetcher`` hands it to whoever then reads the same files."""
    global _started
    discard()
    _started = Prefetcher(paths)


def discard() -> None:
    """Stops what ``start`` began if nobody took it (the command failed before reading)."""
    global _started
    if _started is not None:
        _started.close()
        _started = None


def prefetcher(paths: list[str]) -> Prefetcher:
    """The ``Prefetcher`` ``start`` made for these same ``paths``, else a new one."""
    global _started
    if _started is not None and _started.paths == list(paths):
        found, _started = _started, None
        return found
    discard()
    return Prefetcher(paths)
