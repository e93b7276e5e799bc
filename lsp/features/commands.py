"""Server commands (workspace/executeCommand): argument object -> engine call -> JSON result.

Every engine call runs in a worker thread (it talks to the API server and runs kubectl), so the
event loop keeps answering other requests. Errors keep the CLI's one-line message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

from kodama.errors import Cancelled, InvalidInput, KodamaError
from kodama.events import CancelToken, EventSink
from kodama.git import session as git
from kodama.models import SessionSpec, StartRequest, SyncStatus
from kodama.validation import MAX_SESSION_NAME

from ..progress import WorkDone

if TYPE_CHECKING:
    from kodama.engine import SessionEngine

    from ..server import KodamaServer

T = TypeVar("T")
log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP's RequestFailed: a valid request the engine could not carry out
REQUEST_CANCELLED = JsonRpcRequestCancelled.CODE
EXPECTED_CODES = {REQUEST_FAILED, REQUEST_CANCELLED}


class KodamaRequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


# -- arguments --------------------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class RootArgs(_Args):
    root: str | None = None


class NameArgs(_Args):
    name: str


class ListArgs(_Args):
    all_namespaces: bool = False


class DeleteArgs(NameArgs):
    confirm: bool = False
    keep_data: bool = False


class DoctorArgs(_Args):
    image_check: bool = False
    storage_class: str | None = None


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


A = TypeVar("A", bound=_Args)


@dataclass
class Call:
    """One executeCommand request."""

    ls: KodamaServer
    command: str
    args: dict[str, Any]
    cancel: CancelToken
    work_done_token: types.ProgressToken | None

    def parse(self, model: type[A]) -> A:
        try:
            return model.model_validate(self.args)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "argument"
            raise InvalidInput(f"{self.command}: {where}: {err['msg']}") from None

    def root(self, given: str | None = None) -> Path:
        return Path(given).expanduser().resolve() if given else self.ls.workspace_root()

    def engine(self, root: Path | None = None) -> SessionEngine:
        return self.ls.engine(root)

    async def with_progress(self, title: str, fn: Callable[[EventSink, CancelToken], T]) -> T:
        """Run `fn(sink, cancel)` in a worker thread, its events shown as work-done progress."""
        work = await WorkDone.open(self.ls, self.work_done_token, title)
        if work.token is not None:
            self.ls.progress_cancels[work.token] = self.cancel
        try:
            result = await self.ls.in_thread(fn, work.sink, self.cancel)
        except Cancelled:
            work.end("Cancelled")
            raise
        except KodamaError as exc:
            work.end(f"Failed: {exc.message}")
            raise
        except BaseException:
            work.end("Failed")
            raise
        finally:
            if work.token is not None:
                self.ls.progress_cancels.pop(work.token, None)
        work.end()
        return result


async def execute(ls: KodamaServer, params: types.ExecuteCommandParams, request_id: Any) -> Any:
    handler = COMMANDS[params.command]
    raw = list(params.arguments or [])
    arg = raw[0] if raw else None
    cancel = CancelToken()
    if request_id is not None:
        ls.running[request_id] = cancel
    try:
        if (arg is not None and not isinstance(arg, dict)) or len(raw) > 1:
            raise InvalidInput(f"{params.command} takes one argument object")
        call = Call(ls, params.command, arg or {}, cancel, params.work_done_token)
        return await handler(call)
    except Cancelled as exc:
        ls.log(f"{params.command}: {exc.message}", types.MessageType.Info)
        raise JsonRpcRequestCancelled(exc.message) from None
    except KodamaError as exc:
        ls.show_error(exc.message)
        if exc.hint:
            ls.log(f"{exc.message} (hint: {exc.hint})", types.MessageType.Error)
        data = {"kind": type(exc).__name__, "hint": exc.hint}
        raise KodamaRequestFailed(exc.message, data=data) from None
    except (JsonRpcException, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("%s failed", params.command)
        ls.show_error(f"kodama-lsp internal error in {params.command}: {exc}")
        raise
    finally:
        ls.running.pop(request_id, None)


async def ask(ls: KodamaServer, message: str, actions: list[str]) -> str | None:
    """window/showMessageRequest; the chosen action's title, or None."""
    try:
        choice = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=message,
                actions=[types.MessageActionItem(title=a) for a in actions],
            )
        )
    except Exception as exc:  # a client that cannot ask counts as "no"
        ls.log(f"window/showMessageRequest failed: {exc}", types.MessageType.Warning)
        return None
    return choice.title if choice is not None else None


# -- commands ---------------------------------------------------------------------------------------


def suggest_session_name(root: Path) -> str:
    """A valid session name from the current branch (else the folder's name)."""
    branch = git.current_branch(root) if git.repo_root(root) else None
    base = (branch or root.name).removeprefix("kodama/")
    name = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return name[:MAX_SESSION_NAME].rstrip("-") or "session"


async def suggest_name(call: Call) -> dict[str, Any]:
    root = call.root(call.parse(RootArgs).root)
    return {"name": await call.ls.in_thread(suggest_session_name, root)}


async def start(call: Call) -> dict[str, Any] | None:
    a = call.parse(StartArgs)
    root = call.root(a.root)
    name = a.name
    if not name:
        suggested = await call.ls.in_thread(suggest_session_name, root)
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
            call.ls.refresher.poke()
        return {"family": name, "sessions": [s.to_json_dict() for s in family]}
    try:
        session = await call.with_progress(
            f"Kodama: starting {name}",
            lambda sink, cancel: engine.start(req, events=sink, cancel=cancel),
        )
    finally:
        call.ls.refresher.poke()
    return session.to_json_dict()


async def list_(call: Call) -> list[dict[str, Any]]:
    a = call.parse(ListArgs)
    engine = call.engine()
    sessions = await call.ls.in_thread(engine.list_sessions, a.all_namespaces)
    return [s.to_json_dict() for s in sessions]


async def get(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    session = await call.ls.in_thread(lambda: engine.get(name, details=True))
    out = session.to_json_dict()
    # Session details show what it used (run time, resources, tokens, cost).
    with contextlib.suppress(KodamaError):
        used = await call.ls.in_thread(lambda: engine.usage(name))
        out["usage"] = used[0].to_json_dict() if used else None
    return out


async def stop(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    try:
        session = await call.with_progress(
            f"Kodama: stopping {name}",
            lambda sink, cancel: engine.stop(name, events=sink, cancel=cancel),
        )
    finally:
        call.ls.refresher.poke()
    return session.to_json_dict()


async def resume(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    try:
        session = await call.with_progress(
            f"Kodama: resuming {name}",
            lambda sink, cancel: engine.resume(name, events=sink, cancel=cancel),
        )
    finally:
        call.ls.refresher.poke()
    return session.to_json_dict()


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
        call.ls.refresher.poke()
    return {"deleted": True}


async def attach(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    return await open_attach(call.ls, name)


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
    }


async def sync_status(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    engine = call.engine()

    status = await call.ls.in_thread(engine.sync_status, name)
    return status.to_json_dict()


def _sync_verb(verb: str) -> Callable[[Call], Awaitable[dict[str, Any]]]:
    """sync start|stop|flush: the engine's sync verbs (the CLI's `sync` verbs)."""

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
            status = await call.with_progress(f"Kodama: sync {verb} {name}", work)
        finally:
            call.ls.refresher.poke()
        return status.to_json_dict()

    return run


async def doctor(call: Call) -> dict[str, Any]:
    """The CLI's `doctor` checklist; the summary is shown, every line goes to the log."""
    from kodama.engine.doctor import Doctor, render

    a = call.parse(DoctorArgs)
    engine = call.engine()
    doc = Doctor(engine.config, lambda: engine.cluster, engine.namespace)
    report = await call.with_progress(
        "Kodama: doctor",
        lambda sink, cancel: doc.run(
            storage_class=a.storage_class, image_check=a.image_check, events=sink, cancel=cancel
        ),
    )
    text = render(report)
    call.ls.log(f"kodama doctor:\n{text}", types.MessageType.Info)
    bad = [c for c in report.checks if c.status != "ok"]
    summary = "; ".join(f"{c.status}: {c.message}" for c in bad) or "all checks ok"
    level = types.MessageType.Error if report.failing else types.MessageType.Info
    call.ls.window_show_message(
        types.ShowMessageParams(type=level, message=f"Kodama doctor: {summary}")
    )
    return {**report.to_json_dict(), "ok": not report.failing, "text": text}


COMMANDS: dict[str, Callable[[Call], Awaitable[Any]]] = {
    "kodama.session.suggestName": suggest_name,
    "kodama.session.start": start,
    "kodama.session.list": list_,
    "kodama.session.get": get,
    "kodama.session.stop": stop,
    "kodama.session.resume": resume,
    "kodama.session.delete": delete,
    "kodama.session.attach": attach,
    "kodama.session.fetch": fetch,
    "kodama.sync.status": sync_status,
    "kodama.sync.start": _sync_verb("start"),
    "kodama.sync.stop": _sync_verb("stop"),
    "kodama.sync.flush": _sync_verb("flush"),
    "kodama.doctor": doctor,
}


# -- attach -----------------------------------------------------------------------------------------


def kodama_cli() -> list[str]:
    """The `kubectl kodama` entry point of this installation (works without the kubectl plugin)."""
    sibling = Path(sys.executable).parent / "kubectl-kodama"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return [str(sibling)]
    found = shutil.which("kubectl-kodama")
    # The terminal opens in the workspace: a relative PATH entry ("." or "") would run a
    # kubectl-kodama the checkout carries, and `-m` without -P would import its `kodama/`.
    if found and os.path.isabs(found):
        return [found]
    return [sys.executable, "-P", "-m", "kodama.cli.main"]


async def open_attach(ls: KodamaServer, name: str, namespace: str | None = None) -> dict[str, Any]:
    """Check the session runs, then have the client open `kubectl kodama attach NAME` for it."""
    root = ls.workspace_root()
    engine = ls.engine(root, namespace)

    def check() -> SessionSpec:
        engine.attach_argv(name)  # raises NotFound / "not running" before a terminal opens
        spec, _ = engine.spec_of(name)
        return spec

    spec = await ls.in_thread(check)
    argv = [*kodama_cli(), "attach", *ls.options.kube_flags(spec.namespace), name]
    opened = await open_terminal(ls, f"kodama: {name}", argv, str(root))
    return {"argv": argv, "opened": opened}


async def open_terminal(ls: KodamaServer, title: str, argv: list[str], cwd: str) -> bool:
    if ls.supports_open_terminal():
        try:
            result = await ls.protocol.send_request_async(
                "kodama/openTerminal", {"title": title, "argv": argv, "cwd": cwd}
            )
        except Exception as exc:
            ls.log(f"kodama/openTerminal failed: {exc}", types.MessageType.Warning)
        else:
            opened = result.get("opened") if isinstance(result, dict) else True
            if opened:
                return True
    # Not awaited: the user may leave the message open; the command answers now.
    ls.spawn(
        ask(ls, f"To attach, run in a terminal (in {cwd}):\n{shlex.join(argv)}", ["OK"]),
    )
    return False
