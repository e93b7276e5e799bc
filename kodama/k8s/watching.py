"""Reading a watch stream: one JSON event a line, until the server ends it or we stop it.

cluster.py opens the stream (it is the module that talks to the client); this one turns its
lines into events and its errors into KodamaErrors, and lets another thread end a blocked read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kodama.errors import ClusterError, KodamaError

if TYPE_CHECKING:
    from kodama.k8s.cluster import Cluster


class WatchExpired(ClusterError):
    """The watch's resourceVersion is too old (410 Gone): list again, then watch from there."""


class WatchHandle:
    """Lets another thread end a watch blocked reading its stream (at shutdown)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: Any = None
        self.stopped = False

    def attach(self, response: Any) -> None:
        with self._lock:
            self._response = response
            stopped = self.stopped
        if stopped:
            response.shutdown()

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            response = self._response
        if response is not None:
            response.shutdown()  # wakes the reader blocked in recv


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Non-empty lines of a byte stream as they complete (a chunk may end mid-line)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *whole, pending = pending.split(b"\n")
        yield from (line for line in whole if line.strip())
    if pending.strip():
        yield pending


def parse_event(line: bytes, what: str) -> tuple[str, dict[str, Any]]:
    """(type, object) of one watch line; an ERROR event raises (WatchExpired for 410)."""
    try:
        event = json.loads(line)
        kind, obj = str(event["type"]), event.get("object") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"cannot {what}: unreadable watch event ({exc})") from None
    if kind == "ERROR":
        message = obj.get("message") or obj.get("reason") or "error"
        if obj.get("code") == 410:
            raise WatchExpired(f"{what}: {message}")
        raise ClusterError(f"cannot {what}: {message}")
    return kind, obj


def watch_events(
    cluster: Cluster,
    kind: str,
    selector: str,
    namespace: str | None,
    resource_version: str,
    *,
    seconds: int = 300,
    handle: WatchHandle | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """ADDED / MODIFIED / DELETED / BOOKMARK events after `resource_version`. Returns when the
    server ends the watch (about `seconds`) or `handle` is stopped."""
    from kodama.k8s.cluster import translate

    what = f"watch {kind} objects"
    resp = cluster.open_watch(kind, selector, namespace, resource_version, seconds)
    if handle is not None:
        handle.attach(resp)
    try:
        for line in split_lines(resp.stream(amt=None, decode_content=True)):
            yield parse_event(line, what)
    except KodamaError:
        raise
    except Exception as exc:
        if handle is not None and handle.stopped:
            return
        raise translate(exc, what) from exc
    finally:
        resp.release_conn()
