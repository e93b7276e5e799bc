"""The sync verbs of the engine: start, stop, status, pause/resume/flush, one-shot push and pull.

The mutagen plumbing is kodama.sync; these methods find the session, its pod and its local
checkout, and use the engine's store.
"""

from __future__ import annotations

from pathlib import Path

from kodama.config import load_config
from kodama.engine.reads import Reads
from kodama.errors import KodamaError
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.git import session as git
from kodama.k8s.runtime import PodContext
from kodama.models import SyncState, SyncStatus
from kodama.sync import session as sync

SYNC_ACTIONS = ("flush", "pause", "resume")


class Syncing(Reads):
    def sync_local_root(self, name: str, local: str | None = None) -> Path:
        """--local PATH, else the checkout the session was started from, else cwd's git root."""
        if local:
            path = Path(local).expanduser().resolve()
            if not path.is_dir():
                raise KodamaError(f"{path} is not a folder")
            return path
        recorded = self.recorded_local(self.namespace(), name)
        if recorded is not None:
            return recorded
        root = git.repo_root(self.cwd)
        if root is None:
            raise KodamaError(
                f"session {name} has no local checkout on this machine",
                hint="run this inside the git checkout to sync, or pass --local PATH",
            )
        return root

    def sync_start(
        self,
        name: str,
        local: str | None = None,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
        *,
        wait: bool = False,
    ) -> SyncStatus | None:
        """`wait`: return once the first sync cycle is done (see kodama.sync.session.start)."""
        if not sync.available():
            raise KodamaError("mutagen is not installed", hint=sync.INSTALL_HINT)
        root = self.sync_local_root(name, local)
        ctx = self.pod_context(self.running_spec(name), root)
        if self.recorded_local(ctx.spec.namespace, name) is None:
            self.store.update(ctx.spec.namespace, name, localPath=str(root))
        rep = Reporter(events, name)
        st = sync.start(ctx, self.store, rep, cancel or CancelToken(), wait=wait)
        rep.done(f"Syncing {root} with session {name}")
        return st

    def sync_stop(self, name: str) -> bool:
        self.spec_of(name)
        return sync.stop(self.store, self.namespace(), name, forget=True)

    def sync_status(self, name: str) -> SyncStatus:
        st = sync.status(self.store, self.namespace(), name)
        if st is None:
            self.spec_of(name)  # a clear "not found" for unknown sessions
            return SyncStatus(name=name, state=SyncState.OFF)
        return st

    def sync_control(self, name: str, action: str) -> None:
        """flush | pause | resume the session's live sync."""
        if action not in SYNC_ACTIONS:
            raise KodamaError(f"unknown sync action {action!r}")
        sync.control(self.store, self.namespace(), name, action)

    def _copy_args(self, name: str, path: str | None) -> tuple[PodContext, Path, str, list[str]]:
        root = self.sync_local_root(name)
        ctx = self.pod_context(self.running_spec(name), root)
        sub = ""
        if path:
            target = (self.cwd / path).resolve()
            try:
                sub = target.relative_to(root).as_posix()
            except ValueError:
                raise KodamaError(f"{path} is outside the checkout {root}") from None
            sub = "" if sub == "." else sub
        excludes = load_config(root).config.sync.exclude
        return ctx, root, sub, list(excludes)

    def sync_push(
        self, name: str, path: str | None = None, *, cancel: CancelToken | None = None
    ) -> int:
        """One-shot copy of the checkout (or PATH in it) into the workspace; files sent."""
        from kodama.sync import tarcopy

        return tarcopy.push(*self._copy_args(name, path), cancel=cancel)

    def sync_pull(
        self,
        name: str,
        path: str | None = None,
        *,
        force: bool = False,
        cancel: CancelToken | None = None,
    ) -> int:
        """One-shot copy of the workspace (or PATH in it) into the checkout; files received."""
        from kodama.sync import tarcopy

        return tarcopy.pull(*self._copy_args(name, path), force=force, cancel=cancel)
