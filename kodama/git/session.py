"""Git in the pod: shipping the local repository in, cloning --repo, bringing work back.

Local work runs the user's `git`; in-pod work runs `incluster/git-workspace.sh` through exec.
No git credential is needed for shipping or fetching: both ride on `kubectl exec`. Credentials
for --repo are files from a Secret, read in the pod by `incluster/git-credential-kodama`.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING

from kodama import proc
from kodama.errors import KodamaError, RemoteCommandFailed
from kodama.events import CancelToken, Reporter
from kodama.git.branch import GitPlan as GitPlan
from kodama.git.branch import current_branch as current_branch
from kodama.git.branch import git_ok as _ok
from kodama.git.branch import git_out as _git
from kodama.git.branch import plan as plan
from kodama.git.branch import repo_root as repo_root
from kodama.git.branch import validate_branch as validate_branch
from kodama.git.remote import RepoURL as RepoURL
from kodama.git.remote import credentials as credentials
from kodama.git.remote import parse_repo as parse_repo
from kodama.k8s.kubectl import meaningful
from kodama.k8s.runtime import PodContext
from kodama.models import FetchResult, SessionSpec

if TYPE_CHECKING:
    from kodama.git.ship import Shipment


def incluster_file(name: str) -> str:
    return resources.files("kodama").joinpath("incluster", name).read_text()


# -- in the pod --------------------------------------------------------------------------------


def _identity(root: Path | None) -> tuple[str, str]:
    name = _git(root, "config", "user.name", check=False) or "Kodama agent"
    email = _git(root, "config", "user.email", check=False) or "kodama@localhost"
    return name, email


def build_shipment(spec: SessionSpec, local_path: Path) -> Shipment | None:
    """What ensure_workspace would ship into a new workspace, built ahead (None: no ship)."""
    if not spec.branch or spec.repo or not spec.base_commit:
        return None
    from kodama.git import ship as git_ship

    built = git_ship.build(
        local_path, spec.base_commit, spec.base_branch, ignored=spec.ship_ignored
    )
    built.identity = _identity(local_path)
    return built


@contextmanager
def built_ahead(
    spec: SessionSpec, local_path: Path | None
) -> Iterator[Callable[[], Shipment | None] | None]:
    """Build what start ships while its pod is scheduled and started (a thread of its own, so
    a Ctrl-C meanwhile is not held up by it); removed once used, or when done if left behind."""
    if local_path is None:
        yield None
        return
    built: Future[Shipment | None] = Future()

    def build() -> None:
        try:
            built.set_result(build_shipment(spec, local_path))
        except BaseException as exc:  # handed to whoever waits for it
            built.set_exception(exc)

    def close(done: Future[Shipment | None]) -> None:
        if done.exception() is None and (shipment := done.result()) is not None:
            shipment.close()

    threading.Thread(target=build, name="kodama-ship-build", daemon=True).start()
    try:
        yield built.result
    finally:
        built.add_done_callback(close)


def _sender(data: bytes) -> Callable[[IO[bytes]], None]:
    def write(stream: IO[bytes]) -> None:
        stream.write(data)

    return write


# git-workspace.sh's exit code for "this workspace holds something Kodama did not put there".
NOT_OURS = 3


def _workspace(
    ctx: PodContext,
    cmd: str,
    args: list[str],
    *,
    write: Callable[[IO[bytes]], None] | None = None,
    what: str,
    cancel: CancelToken | None = None,
    identity: tuple[str, str] | None = None,
) -> str:
    name, email = identity or _identity(ctx.local_path)
    argv = ctx.kubectl.script_argv(
        ctx.pod, incluster_file("git-workspace.sh"), [cmd, name, email, *args], stdin=bool(write)
    )
    done = proc.run(argv, cancel=cancel or CancelToken(), timeout=1800, what=what, write=write)
    err = done.stderr.decode(errors="replace").strip().splitlines()
    if done.returncode == NOT_OURS:
        raise KodamaError(
            f"{what}: {err[0].removeprefix('kodama: ') if err else 'the workspace is not empty'}",
            hint=f"nothing was changed in it; `kubectl kodama attach {ctx.spec.name} -- sh` "
            "shows what is there",
        )
    if done.returncode != 0:
        raise RemoteCommandFailed(
            f"{what} failed: {err[-1] if err else f'exit code {done.returncode}'}", done.returncode
        )
    return done.stdout.decode(errors="replace").strip()


def ensure_workspace(
    ctx: PodContext,
    reporter: Reporter,
    cancel: CancelToken,
    *,
    filled: bool = False,
    new: bool = False,
    shipment: Callable[[], Shipment | None] | None = None,
) -> None:
    """Fill the workspace once (ship, clone or init); later calls only check. Idempotent.

    `filled`: the session's PVC says the workspace was filled once (the agent cannot change
    that). Then it is never filled again, whatever the agent did to the repository in it.
    `new`: this start just created the workspace PVC, so the probe exec is skipped (the fill
    commands check for themselves that the workspace is empty, and refuse otherwise).
    `shipment`: returns the payload of a ship built beforehand (start builds it while the pod
    starts); the caller closes it. Without it a ship builds its own.
    """
    spec = ctx.spec
    if not spec.branch:
        return
    cancel.check()
    if not new and (
        _workspace(ctx, "probe", [], what="checking the workspace", cancel=cancel) == "ready"
    ):
        return
    if filled:
        reporter.warn(
            f"the workspace of {spec.name} has lost Kodama's kodama.ready marker (was its .git "
            "replaced?); it is left as it is and not filled again"
        )
        return
    cancel.check()
    if spec.repo:
        url = parse_repo(spec.repo, Path("/"))
        reporter.step("clone", f"Cloning {spec.repo} in the pod (branch {spec.branch})")
        _workspace(
            ctx,
            "clone",
            [
                url.url,
                url.credential_scope or "",
                spec.branch,
                spec.base_branch or "",
                spec.base_commit or "",
            ],
            write=_sender(incluster_file("git-credential-kodama").encode()),
            what=f"cloning {spec.repo}",
            cancel=cancel,
        )
    elif spec.base_commit:
        if ctx.local_path is None:
            raise KodamaError(
                f"the workspace of session {spec.name} was never filled and the local "
                "repository it was started from is unknown here",
                hint=f"`kubectl kodama delete {spec.name}` and start it again from the repository",
            )
        started = time.monotonic()
        reporter.step("ship", f"Shipping {ctx.local_path} into the workspace")
        from kodama.git import ship as git_ship  # tarfile and friends: only a ship needs them

        payload = shipment() if shipment is not None else None
        if payload is None:
            payload = git_ship.build(
                ctx.local_path, spec.base_commit, spec.base_branch, ignored=spec.ship_ignored
            )
        try:
            _workspace(
                ctx,
                "ship",
                [spec.branch, spec.base_commit, spec.base_branch or ""],
                write=payload.write,
                what="shipping the repository",
                cancel=cancel,
                identity=payload.identity,
            )
        finally:
            if shipment is None:
                payload.close()
        reporter.info(f"{payload.summary}, in {time.monotonic() - started:.1f}s")
    else:
        _workspace(
            ctx, "init", [spec.branch], what="creating the workspace repository", cancel=cancel
        )


def ahead(ctx: PodContext) -> int | None:
    """How many commits the session branch is ahead of its base commit (None if unknown)."""
    script = (
        'cd "$KODAMA_WORKSPACE" && base=${1:-$(git config --get kodama.base)} && '
        'tip=$(git rev-parse -q --verify "refs/heads/$2" || git rev-parse HEAD) && '
        'git rev-list --count "$base..$tip"'
    )
    proc = ctx.run(
        ["sh", "-c", script, "kodama", ctx.spec.base_commit or "", ctx.spec.branch or ""],
        check=False,
        timeout=30,
    )
    text = proc.stdout.decode().strip()
    return int(text) if proc.returncode == 0 and text.isdigit() else None


# -- fetch -------------------------------------------------------------------------------------

# Generous for a large history over exec, and still an end for a wedged pod or a dead link.
FETCH_TIMEOUT = 1800.0


def fetch(
    ctx: PodContext,
    root: Path,
    *,
    into: str | None,
    force: bool,
    reporter: Reporter,
    cancel: CancelToken,
    timeout: float | None = FETCH_TIMEOUT,
) -> FetchResult:
    """Bring the session branch into `root` as a local branch, over `kubectl exec` upload-pack."""
    spec = ctx.spec
    if not spec.branch:
        raise KodamaError(f"session {spec.name} has no branch")
    target = validate_branch(into or spec.branch)
    cancel.check()
    # git runs the upload-pack command through the shell and appends the (dummy) repository
    # path; the in-pod script ignores it and serves the workspace.
    upload_pack = shlex.join(
        ctx.kubectl.script_argv(ctx.pod, 'exec git upload-pack "$KODAMA_WORKSPACE"', stdin=True)
    )
    previous = _git(root, "rev-parse", "-q", "--verify", f"refs/heads/{target}", check=False)
    reporter.step("fetch", f"Fetching {spec.branch} from session {spec.name}")
    refspec = f"{'+' if force else ''}refs/heads/{spec.branch}:refs/heads/{target}"
    argv = ["git", "-C", str(root), "fetch", "--no-tags", "--no-write-fetch-head"]
    done = proc.run(
        [*argv, f"--upload-pack={upload_pack}", "--", f"/dev/null/kodama-{spec.name}", refspec],
        cancel=cancel,
        timeout=timeout,
        what=f"fetching {spec.branch} from session {spec.name}",
        env=dict(os.environ, GIT_TERMINAL_PROMPT="0"),
    )
    if done.returncode != 0:
        raise _fetch_error(done.stderr.decode(errors="replace"), spec.name, spec.branch, target)
    commit = _git(root, "rev-parse", f"refs/heads/{target}")
    base = spec.base_commit
    count: int | None
    if base and _ok(root, "cat-file", "-e", f"{base}^{{commit}}"):
        count = int(_git(root, "rev-list", "--count", f"{base}..{commit}"))
    else:
        count = ahead(ctx)
    return FetchResult(
        name=spec.name,
        branch=spec.branch,
        local_branch=target,
        commit=commit,
        previous=previous or None,
        ahead=count,
        base_branch=spec.base_branch,
        base_commit=base,
    )


def _fetch_error(stderr: str, name: str, branch: str, target: str) -> KodamaError:
    text = stderr.strip()
    if "non-fast-forward" in text or "[rejected]" in text:
        return KodamaError(
            f"local branch {target} has commits that are not on the session branch",
            hint="`--force` replaces it, or `--into OTHER` fetches beside it",
        )
    if "checked out" in text:
        return KodamaError(
            f"local branch {target} is checked out; git does not update it by fetching",
            hint="switch to another branch, or `--into OTHER` and merge it",
        )
    if "couldn't find remote ref" in text:
        return KodamaError(f"the session branch {branch} does not exist in the workspace")
    if "does not appear to be a git repository" in text or "not a git repository" in text:
        return KodamaError(f"the workspace of session {name} has no git repository")
    lines = meaningful(text)
    return KodamaError(f"fetch failed: {lines[-1] if lines else 'git fetch failed'}")
