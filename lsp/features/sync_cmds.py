"""Server commands of file sync: status, start, stop, flush, pause, resume, push, pull.

Thin calls into the engine's sync_* verbs (the CLI's `sync` verbs)."""

from __future__ import annotations

from typing import Any

from kodama.events import CancelToken, EventSink
from kodama.models import SyncStatus

from .commands import Call, Handler, NameArgs, sync_json


class CopyArgs(NameArgs):
    path: str | None = None  # inside the checkout; default all of it
    force: bool = False  # pull: overwrite local files with uncommitted changes


async def status(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    st = await call.ls.in_thread(engine.sync_status, name)
    return sync_json(st)


def _verb(verb: str) -> Handler:
    """start | stop | flush | pause | resume; answers the sync status after it."""

    async def run(call: Call) -> dict[str, Any]:
        name = call.parse(NameArgs).name
        engine = call.engine()

        def work(sink: EventSink, cancel: CancelToken) -> SyncStatus:
            if verb == "start":
                engine.sync_start(name, events=sink, cancel=cancel)
            elif verb == "stop":
                engine.sync_stop(name)
            else:
                engine.sync_control(name, verb)
            return engine.sync_status(name)

        try:
            st = await call.with_progress(f"Kodama: sync {verb} {name}", work)
        finally:
            call.ls.refresher.poke(name)
        return sync_json(st)

    return run


def _copy(verb: str) -> Handler:
    """push | pull: copy once (tar over exec); the number of files copied."""

    async def run(call: Call) -> dict[str, Any]:
        a = call.parse(CopyArgs)
        engine = call.engine()

        def copy(_sink: EventSink, cancel: CancelToken) -> int:
            if verb == "push":
                return engine.sync_push(a.name, a.path, cancel=cancel)
            return engine.sync_pull(a.name, a.path, force=a.force, cancel=cancel)

        n = await call.with_progress(f"Kodama: sync {verb} {a.name}", copy)
        return {"name": a.name, "files": n}

    return run


COMMANDS: dict[str, Handler] = {
    "kodama.sync.status": status,
    **{f"kodama.sync.{v}": _verb(v) for v in ("start", "stop", "flush", "pause", "resume")},
    "kodama.sync.push": _copy("push"),
    "kodama.sync.pull": _copy("pull"),
}
