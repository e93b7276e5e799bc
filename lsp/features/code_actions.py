"""Source code actions (`source.kodama.*`) in any file of a git workspace.

Each action's command is a server command (commands.py). Sessions come from the refresher's
last look, so asking for code actions (which editors do on every cursor move) costs no API call.
The answer is kept until that look changes: with 50 sessions of the workspace it is 250 actions,
and making them (a path resolved per session) and having pygls' cattrs serialize them took
tens of ms of the event loop per request while a start and a sync ran (issue 18). They are
made as the plain JSON of lsprotocol's CodeAction, which the transport sends as is (wire.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from kodama import present
from kodama.git import session as git
from kodama.models import Session

if TYPE_CHECKING:
    from ..server import KodamaServer

KIND = "source.kodama"

_roots: dict[Path, Path | None] = {}


async def repo_root(ls: KodamaServer, folder: Path) -> Path | None:
    if folder not in _roots:
        root = await ls.in_thread(git.repo_root, folder)
        _roots[folder] = root.resolve() if root else None
    return _roots[folder]


def _session_actions(s: Session) -> list[tuple[str, str, str]]:
    """(kind suffix, title, command) for the verbs present.actions offers in the session's status."""
    n = s.name
    by_verb = {
        "attach": ("attach", f"Kodama: attach to {n}", "kodama.session.attach"),
        "stop": ("stop", f"Kodama: stop {n}", "kodama.session.stop"),
        "fetch": ("fetch", f"Kodama: fetch the branch of {n}", "kodama.session.fetch"),
        "sync": ("sync.status", f"Kodama: sync status of {n}", "kodama.sync.status"),
        "resume": ("resume", f"Kodama: resume {n}", "kodama.session.resume"),
        "delete": ("delete", f"Kodama: delete {n}", "kodama.session.delete"),
    }
    return [by_verb[verb] for verb in present.actions(s) if verb in by_verb]


_resolved: dict[str, Path] = {}  # a session's local path -> resolved (symlinks followed once)
_answers: dict[tuple[Path, tuple[str, ...]], tuple[list[Session], list[dict[str, Any]]]] = {}


def _resolve(local_path: str) -> Path:
    found = _resolved.get(local_path)
    if found is None:
        if len(_resolved) > 4096:
            _resolved.clear()
        found = _resolved[local_path] = Path(local_path).resolve()
    return found


def action_json(kind: str, title: str, command: str, arg: dict[str, Any]) -> dict[str, Any]:
    """lsprotocol's CodeAction with a Command, as cattrs unstructures it."""
    cmd = {"title": title, "command": command, "arguments": [arg]}
    return {"title": title, "kind": kind, "command": cmd}


def build(sessions: list[Session], root: Path, only: list[str]) -> list[dict[str, Any]]:
    def wanted(kind: str) -> bool:
        return not only or any(kind == o or kind.startswith(f"{o}.") for o in only)

    out: list[dict[str, Any]] = []

    def add(suffix: str, title: str, command: str, arg: dict[str, Any]) -> None:
        kind = f"{KIND}.{suffix}"
        if wanted(kind):
            out.append(action_json(kind, title, command, arg))

    add(
        "start",
        "Kodama: start a session for this repository",
        "kodama.session.start",
        {"root": str(root)},
    )
    add("list", "Kodama: list sessions", "kodama.session.list", {})
    for s in sessions:
        if not s.local_path or _resolve(s.local_path) != root:
            continue
        for suffix, title, command in _session_actions(s):
            add(suffix, title, command, {"name": s.name})
    return out


async def actions(ls: KodamaServer, params: types.CodeActionParams) -> list[dict[str, Any]] | None:
    path = to_fs_path(params.text_document.uri)
    if not path:
        return None
    root = await repo_root(ls, Path(path).parent)
    if root is None:
        return None
    # Only a new look of the refresher replaces this list (its sessions' status and name are
    # what the actions depend on), so the list object itself says whether an answer holds.
    sessions = ls.refresher.sessions
    key = (root, tuple(params.context.only or ()))
    known = _answers.get(key)
    if known is not None and known[0] is sessions:
        return known[1]
    out = build(sessions, root, list(key[1]))
    if len(_answers) > 64:
        _answers.clear()
    _answers[key] = (sessions, out)
    return out
