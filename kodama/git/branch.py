"""Git on this machine: the user's repository, the session branch's name, and planning it.

Everything here runs the user's own `git` locally; nothing touches the pod.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kodama.errors import InvalidInput, KodamaError
from kodama.git.remote import RepoURL, ls_remote, parse_repo


def git_out(root: Path | None, *args: str, check: bool = True, timeout: float = 60) -> str:
    argv = ["git", *(["-C", str(root)] if root else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise KodamaError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout.strip()


def git_ok(root: Path, *args: str) -> bool:
    argv = ["git", "-C", str(root), *args]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def repo_root(cwd: Path) -> Path | None:
    proc = subprocess.run(
        ["git", "-C", str(cwd), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


# -- branch names ------------------------------------------------------------------------------

_BAD_CHARS = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]")


def validate_branch(name: str) -> str:
    """git check-ref-format's rules for a branch name, checked without a repository."""
    why = None
    if not name or name == "@":
        why = "it is empty" if not name else "'@' is reserved"
    elif _BAD_CHARS.search(name):
        why = "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    elif name.startswith("-"):
        why = "it starts with '-'"
    elif ".." in name or "@{" in name or "//" in name:
        why = "it contains '..', '@{' or '//'"
    elif name.startswith("/") or name.endswith("/") or name.endswith("."):
        why = "it starts or ends with '/', or ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        why = "a component starts with '.' or ends with '.lock'"
    if why:
        raise InvalidInput(f"invalid branch name {name!r}: {why}")
    return name


def _stamped(name: str, now: datetime | None) -> str:
    return f"{name}-{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}"


# -- planning ----------------------------------------------------------------------------------


@dataclass
class GitPlan:
    branch: str
    base_branch: str | None
    base_commit: str | None
    repo: str | None
    local_root: Path | None


def current_branch(root: Path) -> str | None:
    name = git_out(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return name or None


def _taken_locally(root: Path, name: str) -> bool:
    refs = git_out(root, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
    return any(r == f"refs/heads/{name}" or r.endswith(f"/{name}") for r in refs.splitlines())


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
    """Decide the session branch and its base. Local git reads (and ls-remote) only."""
    if branch:
        validate_branch(branch)
    if base is not None and (not base.strip() or base.startswith("-")):
        raise InvalidInput(f"invalid --base {base!r}: it must not be empty or start with '-'")
    if repo:
        return _plan_repo(parse_repo(repo, cwd), session, prefix, branch, base, now)
    root = repo_root(cwd)
    if root is None:
        if base:
            raise InvalidInput("--base needs a git repository (run inside one, or use --repo)")
        return GitPlan(validate_branch(branch or f"{prefix}{session}"), None, None, None, None)
    name = branch or f"{prefix}{session}"
    if branch and not base and git_ok(root, "rev-parse", "-q", "--verify", f"refs/heads/{branch}"):
        base = branch  # an existing branch named with --branch is continued, not reset
    base_ref = base or current_branch(root) or "HEAD"
    commit = git_out(
        root, "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}", check=False
    )
    if not commit:
        if base:
            raise InvalidInput(f"--base {base!r} is not a commit in {root}")
        raise InvalidInput(f"the repository at {root} has no commits yet; commit something first")
    if not branch and _taken_locally(root, name):
        name = _stamped(name, now)
    return GitPlan(
        validate_branch(name), None if base_ref == "HEAD" else base_ref, commit, None, root
    )


def _plan_repo(
    url: RepoURL,
    session: str,
    prefix: str,
    branch: str | None,
    base: str | None,
    now: datetime | None,
) -> GitPlan:
    name = branch or f"{prefix}{session}"
    wanted = ["HEAD", f"refs/heads/{name}"] + ([f"refs/heads/{base}", base] if base else [])
    refs = ls_remote(url.url, wanted)
    if refs is None:  # unknown here; the pod resolves the base when it clones
        return GitPlan(validate_branch(name), base, None, url.url, None)
    if refs.get(f"refs/heads/{name}") and not branch:
        name = _stamped(name, now)
    if base:
        commit = (
            refs.get(f"refs/heads/{base}")
            or refs.get(f"refs/tags/{base}^{{}}")
            or refs.get(f"refs/tags/{base}")
        )
        return GitPlan(validate_branch(name), base, commit, url.url, None)
    if branch and refs.get(f"refs/heads/{branch}"):
        return GitPlan(name, branch, refs[f"refs/heads/{branch}"], url.url, None)
    if "HEAD" not in refs:
        # `git init --bare` then a push of `main` leaves HEAD on a branch that does not exist.
        heads = {
            ref.removeprefix("refs/heads/"): commit
            for ref, commit in (ls_remote(url.url, []) or {}).items()
            if ref.startswith("refs/heads/")
        }
        if len(heads) == 1:
            (only, commit), *_ = heads.items()
            return GitPlan(validate_branch(name), only, commit, url.url, None)
        if heads:
            shown = ", ".join(sorted(heads)[:5]) + (", …" if len(heads) > 5 else "")
            raise InvalidInput(
                f"--repo {url.url}: its HEAD names no branch and it has {len(heads)} "
                f"branches ({shown}): choose one with --base BRANCH"
            )
    default = refs.get("HEAD@symref", "").removeprefix("refs/heads/") or None
    return GitPlan(validate_branch(name), default, refs.get("HEAD"), url.url, None)
