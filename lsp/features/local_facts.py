"""This machine's facts that `kodama.session.suggestName` needs, cached and re-checked with a stat:
a folder's git branch and the session names this machine's store holds.

Looking afresh ran `git` twice and parsed every session file on each request: 68 ms median and
717 ms p95 while a start and a sync ran in the same process on two cores (issue 18). git replaces
HEAD by a rename on checkout, and the store writes its files by a rename into its folder, so a
stat tells whether the cached answer is still what a fresh look would give. A stamp younger than
a tick of the file's clock is not trusted: a second change within the same tick would leave the
stamp as it was (git's "racy" index has the same problem and the same answer). File times tick
with the kernel (10 ms at most), or by whole seconds on filesystems that keep no fraction.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kodama.store import Store

if TYPE_CHECKING:
    from typing import Any

SETTLE_NS = 50_000_000  # a fine-grained file clock: a few kernel ticks
COARSE_SETTLE_NS = 1_000_000_000  # a time without a fraction of a second: whole-second clock
NOT_A_REPO_TTL = 5.0  # a folder outside git is looked at again after this (a `git init` there)
MAX_FOLDERS = 64

Stamp = tuple[int, int, int]


def stamp(path: Path) -> Stamp | None:
    """(inode, mtime, size) of a settled file or folder; None if missing or changed just now."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    settle = SETTLE_NS if st.st_mtime_ns % 1_000_000_000 else COARSE_SETTLE_NS
    if time.time_ns() - st.st_mtime_ns < settle:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class GitFacts:
    root: Path | None  # the checkout's top level; None outside git
    branch: str | None  # None on a detached HEAD
    head: Path | None  # the checkout's HEAD file, whose stamp says whether branch still holds
    head_stamp: Stamp | None
    looked_at: float  # time.monotonic()


class LocalFacts:
    """One per server; its methods run in worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._git: dict[Path, GitFacts] = {}
        self._taken: tuple[Path, Stamp, frozenset[str]] | None = None

    def git(self, folder: Path) -> GitFacts:
        with self._lock:
            known = self._git.get(folder)
        if known is not None and self._holds(known):
            return known
        facts = _look(folder)
        with self._lock:
            if len(self._git) >= MAX_FOLDERS:
                self._git.clear()
            self._git[folder] = facts
        return facts

    @staticmethod
    def _holds(facts: GitFacts) -> bool:
        if facts.root is None:
            return time.monotonic() - facts.looked_at < NOT_A_REPO_TTL
        return (
            facts.head is not None
            and facts.head_stamp is not None
            and (stamp(facts.head) == facts.head_stamp)
        )

    def taken(self, store: Store) -> frozenset[str]:
        """The names of this machine's sessions, listed again when its folder changed.

        A record's file is `<name>.yaml` or `<name>.<namespace>.yaml` (Store.write; names hold
        no dot), so one listing tells the names. Reading each file (store.all()) is a few
        system calls per session, and each call waits for the GIL again: over a second for 100
        records while a sync builds its tar in this process (issue 18)."""
        folder = store.sessions_dir
        before = stamp(folder)  # taken before the listing: a change during it shows next time
        cached = self._taken
        if before is not None and cached is not None and cached[:2] == (folder, before):
            return cached[2]
        try:
            with os.scandir(folder) as entries:
                names = frozenset(
                    e.name.split(".", 1)[0]
                    for e in entries
                    if e.name.endswith(".yaml") and not e.name.startswith(".")
                )
        except OSError:
            names = frozenset()
        if before is not None:
            self._taken = (folder, before, names)
        return names


def _look(folder: Path) -> GitFacts:
    from kodama.git import session as git

    now = time.monotonic()
    proc = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel", "--absolute-git-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.splitlines() if proc.returncode == 0 else []
    if len(lines) != 2 or not lines[0].strip():
        return GitFacts(None, None, None, None, now)
    head = Path(lines[1].strip()) / "HEAD"
    head_stamp = stamp(head)  # before asking: a checkout meanwhile changes it for next time
    return GitFacts(Path(lines[0].strip()), git.current_branch(folder), head, head_stamp, now)


class CachedStore(Store):
    """The store of the refresher's engine: all() parses only the records whose file changed,
    and lists the folder only when it changed (Store writes every record by a rename into it).

    The refresher looks at sync states every refreshInterval, and sync.statuses() parses every
    record for it: with 100 records a sixth of the GIL time of a server that was also running
    a start and a sync (py-spy --gil, issue 18). Callers get copies of the records; the nested
    values are shared (every caller only reads them)."""

    def __init__(self) -> None:
        super().__init__()
        self._records: tuple[Stamp, list[dict[str, Any]]] | None = None
        self._files: dict[str, tuple[Stamp, dict[str, Any] | None]] = {}
        self._seen: dict[str, tuple[Stamp, dict[str, Any] | None]] = {}  # by the running all()

    def all(self) -> list[dict[str, Any]]:
        before = stamp(self.sessions_dir)
        known = self._records
        if before is not None and known is not None and known[0] == before:
            return [dict(r) for r in known[1]]
        records = self._read_all()
        self._records = None if before is None else (before, records)
        return [dict(r) for r in records]

    def _read_all(self) -> list[dict[str, Any]]:
        """Store.all(), with each file parsed again only when its stamp changed (_record_at);
        the files it no longer sees are forgotten."""
        self._seen = {}
        records = Store.all(self)
        self._files = self._seen
        return records

    def _record_at(self, path: Path) -> dict[str, Any] | None:
        st = stamp(path)
        known = self._files.get(path.name)
        if st is not None and known is not None and known[0] == st:
            record = known[1]
        else:
            record = super()._record_at(path)
        if st is not None:
            self._seen[path.name] = (st, record)
        return record
