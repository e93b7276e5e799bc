"""Server commands (workspace/executeCommand): argument object -> engine call -> JSON result.

This module is what every command shares (argument parsing, progress, cancel, errors, asking
the user, opening a terminal); the commands themselves are in *_cmds.py by verb family and
registry.py lists them. Every engine call runs in a worker thread (it talks to the API server
and runs kubectl), so the event loop keeps answering other requests. Errors keep the CLI's
one-line message.
"""

from __future__ import annotations

import asyncio
import logging
import os
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

from kodama import present
from kodama.errors import Cancelled, InvalidInput, KodamaError
from kodama.events import CancelToken, EventSink
from kodama.models import Session, SessionSpec, SyncStatus

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


def session_json(s: Session) -> dict[str, Any]:
    """A session on the wire: its raw fields and, beside them, how it reads (`display`)."""
    return {**s.to_json_dict(), "display": present.display(s)}


def sync_json(st: SyncStatus) -> dict[str, Any]:
    return {**st.to_json_dict(), "display": present.sync_display(st)}


# -- arguments --------------------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class RootArgs(_Args):
    root: str | None = None


class NameArgs(_Args):
    name: str


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


Handler = Callable[[Call], Awaitable[Any]]


async def execute(ls: KodamaServer, params: types.ExecuteCommandParams, request_id: Any) -> Any:
    from .registry import COMMANDS

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


async def open_terminal(
    ls: KodamaServer, title: str, argv: list[str], cwd: str, purpose: str = "attach"
) -> bool:
    """kodama/openTerminal when the client can; else show the command line to run by hand."""
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
        ask(ls, f"To {purpose}, run in a terminal (in {cwd}):\n{shlex.join(argv)}", ["OK"]),
    )
    return False
