"""Long-running local processes (kubectl exec streams, git fetch) that obey a deadline and cancel.

A watchdog thread kills the process's whole group (git runs kubectl under a shell) when the token
is cancelled (CLI Ctrl-C, LSP cancel) or the deadline passes; the caller's blocking read or write
then ends, and the guard turns whatever broke into Cancelled or a "timed out" error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

from kodama.errors import Cancelled, ClusterError, KodamaError
from kodama.events import CancelToken

POLL = 0.1  # seconds between the watchdog's looks at the token and the clock


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen in a group of its own, so a kill reaches its children too."""
    try:
        return subprocess.Popen(list(argv), start_new_session=True, **kwargs)
    except FileNotFoundError:
        raise ClusterError(
            f"{argv[0]} not found", hint="install it (kubectl: or set KODAMA_KUBECTL)"
        ) from None


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


class Guard:
    """`with Guard(proc, cancel, timeout, what):` the body streams to or from `proc`."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        cancel: CancelToken,
        timeout: float | None,
        what: str,
    ) -> None:
        self.proc, self.cancel, self.timeout, self.what = proc, cancel, timeout, what
        self.why: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not self._done.wait(POLL):
            if self.cancel.cancelled:
                self.why = "cancel"
            elif deadline is not None and time.monotonic() > deadline:
                self.why = "timeout"
            else:
                continue
            kill(self.proc)
            return

    def __enter__(self) -> Guard:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()
        if exc is not None or self.why is not None:
            kill(self.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self.why == "cancel":
            raise Cancelled(f"interrupted: {self.what} cancelled") from None
        if self.why == "timeout":
            # Not Timeout: that one means "the pod is not Ready", which start does not roll back.
            raise KodamaError(f"{self.what} timed out after {self.timeout:g}s") from None


def run(
    argv: Sequence[str],
    *,
    cancel: CancelToken,
    timeout: float | None,
    what: str,
    write: Callable[[IO[bytes]], None] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv to the end; `write` streams its stdin (else it reads nothing).

    Output goes to temporary files, so a chatty process never blocks on a full pipe while the
    caller is busy writing."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = popen(
            argv,
            stdin=subprocess.PIPE if write else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
        )
        with Guard(proc, cancel, timeout, what):
            if write is not None:
                assert proc.stdin is not None
                try:
                    write(proc.stdin)
                except BrokenPipeError:
                    pass  # the other side stopped reading: its exit code and stderr say why
                finally:
                    with contextlib.suppress(BrokenPipeError):
                        proc.stdin.close()
            code = proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(list(argv), code, out.read(), err.read())
