"""Follow a namespace's sessions: one list of PVCs and pods, then watches, not re-lists.

A long-lived reader (the language server) keeps a `SessionWatch` per namespace. Two threads
list their kind once and then watch it from the list's resourceVersion; a watch the server ends
(every few minutes) resumes from the last version it saw (bookmarks keep that fresh). Only a
410 Gone lists again at once; any other error lists again after a backoff (1 s doubling to
30 s), so a cluster that is down is not hammered. `sessions()` builds Sessions from what the
watches hold, with no API call; agent states are read separately (see pacing.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kodama.engine.reads import session_order
from kodama.errors import KodamaError
from kodama.k8s.manifests import SELECTOR, SESSION_LABEL
from kodama.k8s.watching import WatchExpired, WatchHandle, watch_events
from kodama.models import AgentState, Session, SessionSpec, SyncStatus

if TYPE_CHECKING:
    from kodama.engine.reads import Reads

log = logging.getLogger(__name__)

KINDS = ("PersistentVolumeClaim", "Pod")
WATCH_SECONDS = 300
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0

Key = tuple[str, str]


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace")), str(meta.get("name"))


def _session_key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace")), str((meta.get("labels") or {}).get(SESSION_LABEL, ""))


class SessionWatch:
    """The sessions of one namespace (None: all namespaces), kept current by watches."""

    def __init__(
        self,
        engine: Reads,
        namespace: str | None,
        on_change: Callable[[], None] = lambda: None,
        *,
        seconds: int = WATCH_SECONDS,
    ) -> None:
        self.engine = engine
        self.namespace = namespace
        self.on_change = on_change
        self.seconds = seconds
        self.lists = 0  # lists made (the first of each kind, then only after 410 or an error)
        self.watches = 0  # watches opened (again each time the API server ends one)
        self.error: KodamaError | None = None  # the last failure, None once a list or watch works
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {k: {} for k in KINDS}
        self._synced: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handles: dict[str, WatchHandle] = {}
        self._threads: list[threading.Thread] = []
        self._specs: dict[Key, SessionSpec] = {}
        self._built: dict[Key, Session] = {}
        self._dirty: set[Key] = set()  # sessions whose objects changed since the last build
        self._all_dirty = True
        self._build_lock = threading.Lock()
        self.version = 0  # bumped on every change of what the watches hold

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        for kind in KINDS:
            t = threading.Thread(
                target=self._follow, args=(kind,), name=f"kodama-watch-{kind}", daemon=True
            )
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            handles = list(self._handles.values())
        for h in handles:
            h.stop()

    @property
    def synced(self) -> bool:
        """Both kinds were listed at least once: sessions() tells the truth."""
        with self._lock:
            return len(self._synced) == len(KINDS)

    # -- reading ------------------------------------------------------------------------------

    def sessions(self) -> list[Session]:
        """Sessions from the watched objects (no API call); agent states are left unknown.
        Only sessions whose objects changed are built again (a build reads the local record)."""
        with self._build_lock:  # the refresher and a list may ask at once
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                everything = self._all_dirty
                self._all_dirty = False
                if everything or dirty:
                    pvcs = [
                        o
                        for o in self._objects["PersistentVolumeClaim"].values()
                        if everything or _session_key(o) in dirty
                    ]
                    pods = [
                        o
                        for o in self._objects["Pod"].values()
                        if everything or _session_key(o) in dirty
                    ]
            if everything or dirty:
                fresh, specs, _ = self.engine.sessions_from(pvcs, pods)
                with contextlib.suppress(KodamaError, OSError):
                    self.engine._rebuild_records(fresh, specs)
                kept = (
                    {} if everything else {k: v for k, v in self._built.items() if k not in dirty}
                )
                kept.update({(s.namespace, s.name): s for s in fresh})
                kept_specs = (
                    {} if everything else {k: v for k, v in self._specs.items() if k not in dirty}
                )
                self._specs = {**kept_specs, **specs}
                self._built = kept
            ordered = sorted(self._built.values(), key=session_order)
            return [s.model_copy() for s in ordered]  # callers fill in agent and sync states

    def hooked(self, key: Key) -> bool:
        """Its agent reports states through hooks (Claude Code): it can turn "waiting"."""
        spec = self._specs.get(key)
        return spec is None or spec.agent_kind == "claude"

    def agent_state(self, key: Key) -> AgentState:
        """One exec into that session's pod (its spec from the last sessions())."""
        spec = self._specs.get(key)
        if spec is None:
            return AgentState()
        try:
            return self.engine._agent_state(spec)
        except KodamaError:
            return AgentState()

    def sync_statuses(self) -> dict[Key, SyncStatus]:
        """The sync state of the sessions this machine syncs (one local mutagen call, if any)."""
        from kodama.sync import session as sync

        return sync.statuses(self.engine.store)

    # -- the watch loop -----------------------------------------------------------------------

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
        try:
            self.on_change()
        except Exception:  # the consumer's bug must not end the watch
            log.exception("session watch: on_change failed")

    def _follow(self, kind: str) -> None:
        backoff = BACKOFF_FIRST
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list(kind)
                version = self._watch(kind, version)
                backoff = BACKOFF_FIRST
            except WatchExpired:
                version = None  # too old to resume: list again, at once
            except KodamaError as exc:
                self.error = exc
                self._changed()
                version = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            except Exception as exc:  # e.g. a malformed object: same as an API error
                log.exception("session watch of %s failed", kind)
                self.error = KodamaError(f"watching {kind} objects failed: {exc}")
                version = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    def _list(self, kind: str) -> str:
        items, version = self.engine.cluster.list_versioned(kind, SELECTOR, self.namespace)
        with self._lock:
            self.lists += 1
            self._objects[kind] = {_key(o): o for o in items}
            self._synced.add(kind)
            self._all_dirty = True
        self.error = None
        self._changed()
        return version

    def _watch(self, kind: str, version: str) -> str:
        """Apply events until the server ends the watch; the version to resume from."""
        handle = WatchHandle()
        with self._lock:
            self._handles[kind] = handle
        if self._stop.is_set():
            return version
        with self._lock:
            self.watches += 1
        for event, obj in watch_events(
            self.engine.cluster,
            kind,
            SELECTOR,
            self.namespace,
            version,
            seconds=self.seconds,
            handle=handle,
        ):
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if event == "BOOKMARK":
                continue
            with self._lock:
                if event == "DELETED":
                    self._objects[kind].pop(_key(obj), None)
                else:
                    self._objects[kind][_key(obj)] = obj
                self._dirty.add(_session_key(obj))
            self.error = None
            self._changed()
        return version
