"""Session names the engine suggests (the editors' "Start Session", `start` without NAME)."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from kodama.git import session as git
from kodama.validation import MAX_SESSION_NAME


def suggest_session_name(root: Path, taken: Collection[str] = ()) -> str:
    """A valid session name from the checkout's branch (else the folder's name).

    The branch without a leading `kodama/`, lowercased, other characters runs turned into `-`,
    cut to the length limit; `-2`, `-3`, … when a session of this machine already has it."""
    branch = git.current_branch(root) if git.repo_root(root) else None
    return name_from(branch, root, taken)


def name_from(branch: str | None, folder: Path, taken: Collection[str] = ()) -> str:
    """suggest_session_name with the git facts already known (the language server caches them)."""
    base = (branch or folder.name).removeprefix("kodama/")
    name = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    name = name[:MAX_SESSION_NAME].rstrip("-") or "session"
    n = 1
    candidate = name
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = name[: MAX_SESSION_NAME - len(suffix)].rstrip("-") + suffix
    return candidate
