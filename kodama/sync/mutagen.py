"""Kodama's private mutagen daemon: its data directory, its ssh/scp shims, its CLI calls.

A daemon only reads MUTAGEN_SSH_PATH and MUTAGEN_DATA_DIRECTORY when it starts, so Kodama runs
its own (data under $KODAMA_HOME/mutagen) instead of borrowing the user's. Starting it, and
stopping it once Kodama's last mutagen session is gone, happen under one file lock so that two
Kodama commands never race (one stopping the daemon the other is about to use).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from kodama.errors import KodamaError
from kodama.events import CancelToken
from kodama.home import kodama_home

INSTALL_HINT = (
    "install mutagen (https://mutagen.io/documentation/introduction/installation, e.g. "
    "`brew install mutagen-io/mutagen/mutagen`) or set KODAMA_MUTAGEN to its path"
)
_JSON = "{{ json . }}"


def mutagen_binary() -> str | None:
    """`KODAMA_MUTAGEN`, else `mutagen` on PATH (its agent bundle must sit beside it)."""
    env = os.environ.get("KODAMA_MUTAGEN")
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("mutagen")


def available() -> bool:
    return mutagen_binary() is not None


class Mutagen:
    """Kodama's private mutagen daemon and the CLI calls that talk to it."""

    def __init__(self, home: Path | None = None, binary: str | None = None) -> None:
        found = binary or mutagen_binary()
        if not found:
            raise KodamaError("mutagen is not installed", hint=INSTALL_HINT)
        self.binary = found
        self.home = (home or kodama_home()).expanduser().absolute()
        self.data_dir = self.home / "mutagen"
        self.shim_dir = self.home / "shims"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            MUTAGEN_DATA_DIRECTORY=str(self.data_dir),
            MUTAGEN_SSH_PATH=str(self.shim_dir),
            MUTAGEN_DISABLE_AUTOSTART="1",  # only ensure_daemon starts it, with this env
            KODAMA_HOME=str(self.home),
            KODAMA_PYTHON=sys.executable,
        )
        return env

    def run(
        self, *args: str, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [self.binary, *args],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise KodamaError(f"mutagen {args[0]} {args[1]} timed out after {timeout:g}s") from None
        except OSError as exc:
            raise KodamaError(f"cannot run mutagen: {exc.strerror}", hint=INSTALL_HINT) from None
        if check and proc.returncode != 0:
            raise KodamaError(f"mutagen {' '.join(args[:2])} failed: {_last_line(proc.stderr)}")
        return proc

    # -- daemon --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lifecycle(self) -> Iterator[None]:
        """Held while creating or terminating sessions and starting or stopping the daemon."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.home / "mutagen.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def install_shims(self) -> None:
        self.shim_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for tool in ("ssh", "scp"):
            text = resources.files("kodama.sync.shims").joinpath(tool).read_text()
            dest = self.shim_dir / tool
            if not dest.is_file() or dest.read_text() != text:
                tmp = dest.with_suffix(".tmp")
                tmp.write_text(text)
                tmp.chmod(0o755)
                tmp.replace(dest)

    def daemon_running(self) -> bool:
        # The socket only exists while a daemon runs (or after a crash): without it, skip the
        # CLI's half-second dial timeout, which `get`/`list` would otherwise pay every time.
        if not (self.data_dir / "daemon" / "daemon.sock").exists():
            return False
        return self.run("sync", "list", "--template", "{{ len . }}", check=False).returncode == 0

    def ensure_daemon(self, timeout: float = 15) -> None:
        self.spawn_daemon()
        self.wait_daemon(timeout)

    def spawn_daemon(self) -> bool:
        """Start the daemon unless one runs, without waiting for it; True when it was started.

        A caller with other work to do (seeding a workspace) does it while the daemon starts."""
        self.install_shims()
        if self.daemon_running():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.data_dir / "kodama-daemon.log").open("ab") as log:
            # Our own process (not `daemon start`) so its log is kept; a new session so it
            # outlives this command. A second concurrent start loses on mutagen's lock and exits.
            subprocess.Popen(
                [self.binary, "daemon", "run"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return True

    def wait_daemon(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.daemon_running():
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        raise KodamaError(
            "the mutagen daemon did not start",
            hint=f"see {self.data_dir / 'kodama-daemon.log'}",
        )

    def stop_daemon_if_idle(self) -> None:
        if not self.daemon_running():
            return
        if not self.list():
            self.run("daemon", "stop", check=False)

    # -- sessions ------------------------------------------------------------------------------

    def first_cycle(self, label_selector: str, cancel: CancelToken) -> dict[str, Any] | None:
        """Wait until the session has synchronized once (both sides equal), or cannot: an error,
        a halt, a pause, or the session gone. Its state then (None when gone).

        Polled rather than `sync flush`, which would force a second full cycle (a rescan of both
        sides) after the first; a list is a few milliseconds of the daemon's time."""
        pause = 0.02
        while True:
            found = self.list(label_selector)
            doc = found[0] if found else None
            if (
                doc is None
                or doc.get("successfulCycles")
                or doc.get("lastError")
                or doc.get("paused")
                or str(doc.get("status", "")).startswith("halted")
            ):
                return doc
            cancel.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def list(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        args = ["sync", "list", "--template", _JSON]
        if label_selector:
            args += ["--label-selector", label_selector]
        proc = self.run(*args)
        try:
            data = json.loads(proc.stdout or "null")
        except ValueError:
            out = proc.stdout[:200]
            raise KodamaError(f"unexpected output from mutagen sync list: {out!r}") from None
        return [s for s in data or [] if isinstance(s, dict)]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
