"""`pr`: the session's work as a pull request, with the user's own git credentials.

The branch comes back over `kubectl exec` (fetch, no credentials), is pushed from this machine
with whatever git already uses here (credential helper, ssh agent), and the pull request is
opened with `gh` when it is installed and logged in; otherwise the host's compare page is
printed. Nothing here sends a credential to the pod.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from kodama.errors import InvalidInput, KodamaError
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.git import session as git
from kodama.models import SessionSpec, _Model

if TYPE_CHECKING:
    from kodama.engine import SessionEngine

TITLE_MAX = 72
# scp-like `git@host:owner/repo.git`, or a URL with a scheme.
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_URL = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^:/]+)(?::\d+)?/(?P<path>.+)$")


class PullRequest(_Model):
    name: str
    remote: str
    branch: str  # the branch on the remote
    base: str
    commit: str
    commits: int | None = None
    title: str
    url: str | None = None
    opened: bool = False  # True: `gh` opened it; False: `url` is the page to open it


def web_repo(remote_url: str) -> tuple[str, str] | None:
    """(kind, https://host/owner/repo) for GitHub- and GitLab-hosted remotes, else None."""
    m = _URL.match(remote_url) or _SCP.match(remote_url)
    if m is None:
        return None
    host = m.group("host").lower()
    path = m.group("path").removesuffix("/").removesuffix(".git")
    kind = "github" if "github" in host else "gitlab" if "gitlab" in host else None
    if kind is None or path.count("/") < 1:
        return None
    return kind, f"https://{host}/{path}"


def compare_url(kind: str, web: str, base: str, head: str) -> str:
    if kind == "github":
        return f"{web}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}?expand=1"
    return (
        f"{web}/-/merge_requests/new?merge_request%5Bsource_branch%5D={quote(head, safe='')}"
        f"&merge_request%5Btarget_branch%5D={quote(base, safe='')}"
    )


def _git(root: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        # The user's own credentials (helpers, ssh agent) but never a prompt the editor cannot
        # answer.
        env=dict(os.environ, GIT_TERMINAL_PROMPT="0"),
        timeout=300,
    )
    if check and proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise KodamaError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout.strip()


def _default_remote(root: Path, base: str | None) -> str:
    if base:
        tracked = _git(root, "config", "--get", f"branch.{base}.remote", check=False)
        if tracked and tracked != ".":
            return tracked
    remotes = _git(root, "remote").split()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    raise InvalidInput(
        "cannot tell which remote to push to"
        + (f" (remotes: {', '.join(remotes)})" if remotes else ": the repository has no remote"),
        hint="pass --remote NAME",
    )


def _remote_default_branch(root: Path, remote: str) -> str | None:
    ref = _git(root, "symbolic-ref", "-q", f"refs/remotes/{remote}/HEAD", check=False)
    return ref.removeprefix(f"refs/remotes/{remote}/") or None


def _gh_ready(root: Path) -> bool:
    if shutil.which("gh") is None:
        return False
    proc = subprocess.run(
        ["gh", "auth", "status"],
        cwd=root,
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return proc.returncode == 0


def title_and_body(
    name: str, prompt: str | None, subjects: list[str], title: str | None, body: str | None
) -> tuple[str, str]:
    """Defaults from the session: its prompt, else its only commit, else its name."""
    first = next((ln.strip() for ln in (prompt or "").splitlines() if ln.strip()), "")
    if title is None:
        title = first or (subjects[0] if len(subjects) == 1 else f"Work from Kodama session {name}")
        if len(title) > TITLE_MAX:
            title = title[: TITLE_MAX - 1].rstrip() + "…"
    if body is None:
        parts = []
        if prompt and prompt.strip():
            parts.append("Prompt:\n\n" + "\n".join(f"> {ln}" for ln in prompt.strip().splitlines()))
        if subjects:
            parts.append("Commits:\n\n" + "\n".join(f"- {s}" for s in subjects))
        parts.append(f"Opened with `kubectl kodama pr {name}`.")
        body = "\n\n".join(parts)
    return title, body


def open_pull_request(
    engine: SessionEngine,
    name: str,
    *,
    base: str | None = None,
    remote: str | None = None,
    draft: bool = False,
    title: str | None = None,
    body: str | None = None,
    events: EventSink = null_sink,
    cancel: CancelToken | None = None,
) -> PullRequest:
    cancel = cancel or CancelToken()
    spec, _ = engine.spec_of(name)
    record = engine.store.read(spec.namespace, name) or {}
    root = git.repo_root(engine.cwd) or (
        Path(record["localPath"]) if record.get("localPath") else None
    )
    if root is None:
        raise InvalidInput("pr needs the local git repository: run it inside it")
    remote = remote or _default_remote(root, spec.base_branch)
    remote_url = _git(root, "remote", "get-url", remote, check=False)
    if not remote_url:
        raise InvalidInput(f"no remote {remote!r} in {root}", hint="pass --remote NAME")
    fetched = engine.fetch(name, events=events, cancel=cancel)
    rep = Reporter(events, name)
    head = spec.branch or fetched.local_branch
    base = base or spec.base_branch or _remote_default_branch(root, remote) or "main"
    cancel.check()
    rep.step("push", f"Pushing {fetched.local_branch} to {remote} as {head}")
    _git(root, "push", remote, f"refs/heads/{fetched.local_branch}:refs/heads/{head}")
    subjects: list[str] = []
    if spec.base_commit:
        log = _git(root, "log", "--reverse", "--format=%s", f"{spec.base_commit}..{fetched.commit}")
        subjects = [s for s in log.splitlines() if s]
    prompt = _session_prompt(engine, spec)
    title, body = title_and_body(name, prompt, subjects, title, body)
    result = PullRequest(
        name=name,
        remote=remote,
        branch=head,
        base=base,
        commit=fetched.commit,
        commits=fetched.ahead,
        title=title,
    )
    web = web_repo(remote_url)
    if _gh_ready(root):
        rep.step("pr", f"Opening a pull request with gh: {head} → {base}")
        argv = ["gh", "pr", "create", "--head", head, "--base", base, "--title", title]
        argv += ["--body", body] + (["--draft"] if draft else [])
        proc = subprocess.run(
            argv, cwd=root, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
        if proc.returncode == 0:
            urls = [w for w in proc.stdout.split() if w.startswith("http")]
            rep.done(f"Pull request opened: {urls[-1] if urls else proc.stdout.strip()}")
            return result.model_copy(update={"url": urls[-1] if urls else None, "opened": True})
        lines = proc.stderr.strip().splitlines()
        rep.warn(f"gh pr create failed: {lines[-1] if lines else proc.returncode}")
    if web is not None:
        url = compare_url(web[0], web[1], base, head)
        rep.done(f"Pushed {head}; open the pull request at {url}")
        return result.model_copy(update={"url": url})
    rep.done(f"Pushed {head} to {remote}; open a pull request on its host")
    return result


def _session_prompt(engine: SessionEngine, spec: SessionSpec) -> str | None:
    """The headless prompt the session was started with (kept on its home PVC), if any."""
    proc = engine.pod_context(spec).run(
        ["sh", "-c", 'cat "$HOME/.kodama/prompt" 2>/dev/null'], check=False, timeout=30
    )
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None
