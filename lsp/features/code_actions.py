"""Source code actions (`source.kodama.*`) in any file of a git workspace.

Each action's command is a server command (commands.py). Sessions come from the refresher's
last look, so asking for code actions (which editors do on every cursor move) costs no API call.
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


async def actions(
    ls: KodamaServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    path = to_fs_path(params.text_document.uri)
    if not path:
        return None
    root = await repo_root(ls, Path(path).parent)
    if root is None:
        return None
    only = params.context.only or []

    def wanted(kind: str) -> bool:
        return not only or any(kind == o or kind.startswith(f"{o}.") for o in only)

    out: list[types.CodeAction] = []

    def add(suffix: str, title: str, command: str, arg: dict[str, Any]) -> None:
        kind = f"{KIND}.{suffix}"
        if wanted(kind):
            out.append(
                types.CodeAction(
                    title=title,
                    kind=kind,
                    command=types.Command(title=title, command=command, arguments=[arg]),
                )
            )

    add(
        "start",
        "Kodama: start a session for this repository",
        "kodama.session.start",
        {"root": str(root)},
    )
    add("list", "Kodama: list sessions", "kodama.session.list", {})
    for s in ls.refresher.sessions:
        if not s.local_path or Path(s.local_path).resolve() != root:
            continue
        for suffix, title, command in _session_actions(s):
            add(suffix, title, command, {"name": s.name})
    return out
