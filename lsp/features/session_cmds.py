"""Server commands of the session lifecycle: suggest/check a name, start, list, get, stop, resume,
delete, fetch."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from kodama import present
from kodama.errors import KodamaError
from kodama.events import CancelToken, EventSink
from kodama.models import Session, StartRequest

from .commands import Call, Handler, NameArgs, RootArgs, _Args, ask, session_json

if TYPE_CHECKING:
    from kodama.engine import SessionEngine


class ListArgs(_Args):
    all_namespaces: bool = False


class DeleteArgs(NameArgs):
    confirm: bool = False
    keep_data: bool = False


class StartArgs(RootArgs):
    name: str | None = None
    image: str | None = None
    cpu: str | None = None
    memory: str | None = None
    prompt: str | None = None
    agent_command: str | None = None
    branch: str | None = None
    base: str | None = None
    repo: str | None = None
    no_sync: bool = False
    no_wait: bool = False
    # The client showed the user what the repository's .kodama.yaml sets and they accepted.
    accept_repo_config: bool = False
    count: int | None = None  # fan-out: NAME-1..NAME-count
    idle_stop: str | None = None


class CheckNameArgs(_Args):
    name: str


def _suggest(call: Call, root_arg: str | None) -> str:
    """The engine's suggestion for this checkout, avoiding the names of this machine's sessions
    (git facts and taken names cached: local_facts.py)."""
    from kodama.names import name_from

    root = call.root(root_arg)
    facts = call.ls.local_facts
    taken = facts.taken(call.engine(root).store)
    return name_from(facts.git(root).branch, root, taken)


async def suggest_name(call: Call) -> dict[str, Any]:
    root = call.parse(RootArgs).root
    return {"name": await call.ls.in_thread(_suggest, call, root)}


async def check_name(call: Call) -> dict[str, Any]:
    """The engine's rule for a session name, for clients that validate while the user types."""
    from kodama.validation import validate_session_name

    name = call.parse(CheckNameArgs).name
    try:
        validate_session_name(name)
    except KodamaError as exc:
        return {"name": name, "error": exc.message}
    return {"name": name, "error": None}


async def start(call: Call) -> dict[str, Any] | None:
    a = call.parse(StartArgs)
    root = call.root(a.root)
    name = a.name
    if not name:
        suggested = await call.ls.in_thread(_suggest, call, str(root))
        question = f"Start Kodama session {suggested}?"
        if await ask(call.ls, question, ["Start", "Cancel"]) != "Start":
            return None
        call.cancel.check()
        name = suggested
    req = StartRequest(
        name=name,
        image=a.image,
        cpu=a.cpu,
        memory=a.memory,
        prompt=a.prompt,
        agent_command=a.agent_command,
        branch=a.branch,
        base=a.base,
        repo=a.repo,
        sync=False if a.no_sync else None,
        wait=not a.no_wait,
        local_path=str(root),
        accept_repo_config=a.accept_repo_config,
        idle_stop=a.idle_stop,
    )
    engine = call.engine(root)
    if not req.accept_repo_config:
        # What a cloned repository's file asks for is never acted on without the user's word.
        plan = await call.ls.in_thread(engine.plan_start, req)
        if plan.repo_changes:
            question = (
                f"{plan.repo_config} (from the repository) sets:\n"
                + "\n".join(plan.repo_changes)
                + f"\nStart Kodama session {name} with these settings?"
            )
            if await ask(call.ls, question, ["Start", "Cancel"]) != "Start":
                return None
            call.cancel.check()
            req = req.model_copy(update={"accepted_repo_changes": plan.repo_changes})
    if a.count is not None:
        try:
            family = await call.with_progress(
                f"Kodama: starting {a.count} sessions of {name}",
                lambda sink, cancel: engine.start_family(req, a.count or 0, sink, cancel),
            )
        finally:
            call.ls.refresher.poke(name)
        return {"family": name, "sessions": [session_json(s) for s in family]}
    try:
        session = await call.with_progress(
            f"Kodama: starting {name}",
            lambda sink, cancel: engine.start(req, events=sink, cancel=cancel),
        )
    finally:
        call.ls.refresher.poke(name)
    return session_json(session)


async def list_(call: Call) -> list[dict[str, Any]]:
    a = call.parse(ListArgs)
    if not a.all_namespaces:
        # The editor's own namespace is followed by watches: answered without an API call.
        cached = await call.ls.refresher.listed()
        if cached is not None:
            return cached
    engine = call.engine()

    def look() -> list[dict[str, Any]]:  # dumping is work too: off the event loop
        return [session_json(s) for s in engine.list_sessions(a.all_namespaces)]

    return await call.ls.in_thread(look)


async def get(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    session = await call.ls.in_thread(lambda: engine.get(name, details=True))
    out = session_json(session)
    # Session details show what it used (run time, resources, tokens, cost).
    with contextlib.suppress(KodamaError):
        used = await call.ls.in_thread(lambda: engine.usage(name))
        out["usage"] = used[0].to_json_dict() if used else None
    return out


def _pod_verb(
    doing: str, run: Callable[[SessionEngine, str, EventSink, CancelToken], Session]
) -> Callable[[Call], Awaitable[dict[str, Any]]]:
    """stop and resume: one session by name, with progress, then a refresh of it."""

    async def verb(call: Call) -> dict[str, Any]:
        name = call.parse(NameArgs).name
        engine = call.engine()
        try:
            session = await call.with_progress(
                f"Kodama: {doing} {name}", lambda sink, cancel: run(engine, name, sink, cancel)
            )
        finally:
            call.ls.refresher.poke(name)
        return session_json(session)

    return verb


stop = _pod_verb("stopping", lambda e, n, sink, cancel: e.stop(n, events=sink, cancel=cancel))
resume = _pod_verb("resuming", lambda e, n, sink, cancel: e.resume(n, events=sink, cancel=cancel))


async def delete(call: Call) -> dict[str, Any]:
    a = call.parse(DeleteArgs)
    if not a.confirm:
        what = "its pod and Secrets" if a.keep_data else "its pod, Secrets and PVCs (all its data)"
        question = f"Delete Kodama session {a.name}: {what}?"
        if await ask(call.ls, question, ["Delete", "Cancel"]) != "Delete":
            return {"deleted": False}
        call.cancel.check()
    engine = call.engine()
    try:
        await call.with_progress(
            f"Kodama: deleting {a.name}",
            lambda sink, cancel: engine.delete(
                a.name, events=sink, cancel=cancel, keep_data=a.keep_data
            ),
        )
    finally:
        call.ls.refresher.poke(a.name)
    return {"deleted": True}


async def fetch(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    result = await call.with_progress(
        f"Kodama: fetching {name}",
        lambda sink, cancel: engine.fetch(name, events=sink, cancel=cancel),
    )
    return {
        "branch": result.local_branch,
        "commit": result.commit,
        "ahead": result.ahead,
        "repository": result.repository,
        "display": {"summary": present.fetch_summary(result)},
    }


COMMANDS: dict[str, Handler] = {
    "kodama.session.suggestName": suggest_name,
    "kodama.session.checkName": check_name,
    "kodama.session.start": start,
    "kodama.session.list": list_,
    "kodama.session.get": get,
    "kodama.session.stop": stop,
    "kodama.session.resume": resume,
    "kodama.session.delete": delete,
    "kodama.session.fetch": fetch,
}
