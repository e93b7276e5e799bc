"""Deleting a session's objects (all of them, or all but its data), and waiting until gone."""

from __future__ import annotations

import contextlib
import time

from kodama.engine.core import EngineBase, not_found
from kodama.errors import KodamaError
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.k8s import manifests
from kodama.sync import session as sync
from kodama.validation import validate_session_name

DELETE_WAIT = 60.0  # seconds delete/rollback wait for the objects to be gone
# Everything a session owns, in deletion order (the pod before what it mounts).
SESSION_KINDS = ("Pod", "Secret", "PersistentVolumeClaim")


class Deletion(EngineBase):
    def delete(
        self,
        name: str,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
        *,
        keep_data: bool = False,
    ) -> None:
        ns = self.namespace()
        validate_session_name(name)
        rep = Reporter(events, name)
        objects = self._session_objects(name, ns, SESSION_KINDS)
        if all(kind == "Secret" for kind, _ in objects):
            for _, secret in objects:  # leftovers of a half-deleted session
                self.cluster.delete("Secret", secret, ns)
            self.store.remove(ns, name)
            raise not_found(name, ns)
        lost: list[str] = []
        if keep_data:
            with contextlib.suppress(KodamaError):
                held = manifests.secret_contents(self.spec_of(name, ns)[0])
                lost = [item for items in held.values() for item in items]
        with contextlib.suppress(KodamaError):
            sync.stop(self.store, ns, name, forget=True)
        rep.step(
            "delete", f"Deleting session {name}" + (" (keeping its PVCs)" if keep_data else "")
        )
        self._delete_objects(name, ns, keep_data=keep_data, objects=objects)
        self.store.remove(ns, name)
        if not keep_data:
            rep.done(f"Session {name} deleted")
            return
        if lost:
            rep.warn(f"deleted with its Secrets, not kept: {', '.join(lost)}")
        rep.done(
            f"Session {name} deleted; its workspace and home are kept: `kubectl kodama resume "
            f"{name}` brings it back" + (" without what its Secrets held" if lost else "")
        )

    def _session_objects(self, name: str, ns: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """(kind, name) of the session's objects: one label-selector list per kind.

        Secrets are not listed (the Role grants no `list` on them): their names are fixed by the
        session name, so they are named here and deleting a missing one is a no-op.
        """
        selector = manifests.session_selector(name)
        found = [
            (kind, obj["metadata"]["name"])
            for kind in kinds
            if kind != "Secret"
            for obj in self.cluster.list_objects(kind, selector, ns)
        ]
        if "Secret" in kinds:
            found += [("Secret", secret) for secret in manifests.secret_names(name)]
        return found

    def _delete_objects(
        self,
        name: str,
        ns: str,
        *,
        keep_data: bool,
        objects: list[tuple[str, str]] | None = None,
    ) -> None:
        """Delete the session's objects (pods first), then wait until they are gone."""
        kinds = SESSION_KINDS if not keep_data else ("Pod", "Secret")
        if objects is None:
            objects = self._session_objects(name, ns, kinds)
        for kind, obj_name in objects:
            if kind in kinds:
                self.cluster.delete(kind, obj_name, ns, grace=0 if kind == "Pod" else None)
        # Like `kubectl delete`, return once they are gone (PVCs linger while their protection
        # finalizer is removed), so an immediate re-run of `start` does not find them. Secrets
        # have no finalizer: gone once deleted.
        listed = tuple(k for k in kinds if k != "Secret")
        deadline = time.monotonic() + DELETE_WAIT
        left = self._session_objects(name, ns, listed)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self._session_objects(name, ns, listed)
        if left:
            raise KodamaError(
                f"still there after {DELETE_WAIT:g}s: " + ", ".join(f"{k} {n}" for k, n in left)
            )
