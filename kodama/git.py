"""Git: the session branch, shipping the local repository in, bringing the work back."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import InvalidInput, KodamaError
from .events import CancelToken, Reporter
from .runtime import PodContext

_BRANCH_OK = re.compile(r"^(?!/|.*([/.]\.|//|@\{|\\))[^\x00-\x20~^:?*\[\x7f]+(?<![./])$")


def _git(root: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise KodamaError(
            f"git {args[0]} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
        )
    return proc.stdout.strip()


def repo_root(cwd: Path) -> Path | None:
    proc = subprocess.run(
        ["git", "-C", str(cwd), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def validate_branch(name: str) -> str:
    if not _BRANCH_OK.match(name) or name.endswith(".lock"):
        raise InvalidInput(f"invalid branch name {name!r}")
    return name


@dataclass
class GitPlan:
    branch: str
    base_branch: str | None
    base_commit: str | None
    repo: str | None
    local_root: Path | None


def current_branch(root: Path) -> str | None:
    name = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return name or None


def plan(
    cwd: Path,
    session: str,
    *,
    prefix: str,
    branch: str | None,
    base: str | None,
    repo: str | None,
    now: datetime | None = None,
) -> GitPlan:
    """Decide the session branch and its base. Local git reads only; no cluster."""
    if branch:
        validate_branch(branch)
    if repo:
        name = branch or f"{prefix}{session}"
        return GitPlan(validate_branch(name), base, None, repo, None)
    root = repo_root(cwd)
    if root is None:
        if base:
            raise InvalidInput("--base needs a git repository (run inside one, or use --repo)")
        return GitPlan(validate_branch(branch or f"{prefix}{session}"), None, None, None, None)
    base_ref = base or current_branch(root) or "HEAD"
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}", check=False)
    if not commit:
        if base:
            raise InvalidInput(f"--base {base!r} is not a commit in {root}")
        raise InvalidInput(f"the repository at {root} has no commits yet; commit something first")
    name = branch or f"{prefix}{session}"
    if not branch and _git(
        root, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False
    ):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        name = f"{name}-{stamp}"
    return GitPlan(
        validate_branch(name), None if base_ref == "HEAD" else base_ref, commit, None, root
    )


# In-pod: idempotent. If the workspace already has a repository, only make sure the branch exists.
_RECEIVE = r"""
set -eu
ws="$KODAMA_WORKSPACE"; branch="$1"; base="$2"
if [ -d "$ws/.git" ]; then exit 0; fi
tmp="$HOME/.kodama/incoming.bundle"
mkdir -p "$HOME/.kodama"
cat > "$tmp"
git init -q "$ws.tmp-init" 2>/dev/null || true
rm -rf "$ws.tmp-init"
cd "$ws"
git init -q .
git fetch -q "$tmp" "+refs/heads/*:refs/remotes/local/*" "$base"
git checkout -q -b "$branch" FETCH_HEAD
rm -f "$tmp"
"""


def ensure_workspace(ctx: PodContext, reporter: Reporter, cancel: CancelToken) -> None:
    """Ship the local repository into the workspace (first start only; idempotent)."""
    spec = ctx.spec
    if ctx.local_path is None or spec.base_commit is None or not spec.branch:
        return
    cancel.check()
    reporter.step("ship", f"Shipping {ctx.local_path} into the workspace")
    bundle = subprocess.run(
        ["git", "-C", str(ctx.local_path), "bundle", "create", "-", "--branches", "HEAD"],
        capture_output=True,
        check=False,
    )
    if bundle.returncode != 0:
        raise KodamaError(f"git bundle failed: {bundle.stderr.decode(errors='replace').strip()}")
    ctx.script(
        _RECEIVE,
        [spec.branch, spec.base_commit],
        input=bundle.stdout,
        what="shipping the repository",
    )


def ahead(ctx: PodContext) -> int | None:
    """How many commits the session branch is ahead of its base commit (None if unknown)."""
    if not ctx.spec.base_commit:
        return None
    proc = ctx.run(
        [
            "sh",
            "-c",
            'cd "$KODAMA_WORKSPACE" && git rev-list --count "$1..HEAD"',
            "kodama",
            ctx.spec.base_commit,
        ],
        check=False,
        timeout=30,
    )
    text = proc.stdout.decode().strip()
    return int(text) if proc.returncode == 0 and text.isdigit() else None
