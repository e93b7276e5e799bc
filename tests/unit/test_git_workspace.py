"""The in-pod git steps and fetch, run against local folders instead of a pod.

A Kubectl whose exec runs the command locally with HOME/KODAMA_WORKSPACE/KODAMA_SECRETS set,
exactly what the test control plane does: same scripts, same command lines, no cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from kodama.errors import KodamaError
from kodama.events import CancelToken, Event, Reporter
from kodama.git import session as git
from kodama.k8s.kubectl import Kubectl
from kodama.k8s.manifests import CONTAINER
from kodama.k8s.runtime import PodContext
from tests.fixtures.repo import make_repo
from tests.fixtures.specs import pod_context

from .test_git import GIT_ENV, sh


@dataclass(frozen=True)
class LocalKubectl(Kubectl):
    home: str = ""
    workspace: str = ""
    secrets: str = ""

    def exec_argv(
        self,
        pod: str,
        command: Sequence[str],
        *,
        stdin: bool = False,
        tty: bool = False,
        container: str = CONTAINER,
    ) -> list[str]:
        env = [f"HOME={self.home}", f"KODAMA_WORKSPACE={self.workspace}"]
        env += [f"KODAMA_SECRETS={self.secrets}"]
        return ["env", "-u", "GIT_CONFIG_GLOBAL", *env, *command]


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


class Pod:
    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "pod-home"
        self.ws = tmp / "pod-ws"
        self.secrets = tmp / "pod-secrets"
        for d in (self.home, self.ws, self.secrets):
            d.mkdir()
        self.kubectl = LocalKubectl(
            "ns", home=str(self.home), workspace=str(self.ws), secrets=str(self.secrets)
        )
        self.events: list[Event] = []

    def ctx(self, local: Path | None, **spec: object) -> PodContext:
        return pod_context(local, self.kubectl, **{"name": "s", "namespace": "ns", **spec})

    def ensure(self, ctx: PodContext) -> None:
        git.ensure_workspace(ctx, Reporter(self.events.append, "s"), CancelToken())

    def git(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "GIT_CONFIG_GLOBAL"}
        env["HOME"] = str(self.home)
        return subprocess.run(
            ["git", "-C", str(self.ws), *args], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    def steps(self) -> list[str]:
        return [e.step for e in self.events if e.step]


@pytest.fixture
def pod(tmp_path: Path) -> Pod:
    return Pod(tmp_path)


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A repository with an unpushed commit, two branches and every kind of dirty file."""
    files = {".gitignore": "*.log\n", "kept.txt": "v1\n", "gone.txt": "bye\n"}
    root = make_repo(tmp_path / "local", files=files)
    sh(root, "git", "config", "user.name", "Local Dev")
    sh(root, "git", "config", "user.email", "dev@example.com")
    sh(root, "git", "branch", "other")
    (root / "kept.txt").write_text("v2\n")
    sh(root, "git", "commit", "-q", "-am", "unpushed")
    (root / "kept.txt").write_text("v3 dirty\n")
    (root / "staged.txt").write_text("staged\n")
    sh(root, "git", "add", "staged.txt")
    (root / "new dir").mkdir()
    (root / "new dir" / "untracked.txt").write_text("untracked\n")
    (root / "debug.log").write_text("ignored\n")
    (root / "gone.txt").unlink()
    return root


def start_ctx(pod: Pod, local: Path, **extra: object) -> PodContext:
    plan = git.plan(local, "s", prefix="kodama/", branch=None, base=None, repo=None)
    spec = {"branch": plan.branch, "base_branch": plan.base_branch}
    return pod.ctx(local, base_commit=plan.base_commit, **spec, **extra)


def test_ship_brings_head_branches_and_the_dirty_files(pod: Pod, local: Path) -> None:
    pod.ensure(start_ctx(pod, local))
    assert pod.git("rev-parse", "HEAD") == sh(local, "git", "rev-parse", "HEAD")
    assert pod.git("rev-parse", "--abbrev-ref", "HEAD") == "kodama/s"
    assert (pod.ws / "kept.txt").read_text() == "v3 dirty\n"
    assert (pod.ws / "staged.txt").read_text() == "staged\n"
    assert (pod.ws / "new dir" / "untracked.txt").read_text() == "untracked\n"
    assert not (pod.ws / "gone.txt").exists()
    assert not (pod.ws / "debug.log").exists()  # ignored by git: not shipped
    status = pod.git("status", "--porcelain")
    assert "M kept.txt" in status and "D gone.txt" in status and "?? staged.txt" in status
    refs = pod.git("for-each-ref", "--format=%(refname)")
    assert "refs/remotes/local/main" in refs and "refs/remotes/local/other" in refs
    assert pod.git("config", "user.name") == "Local Dev"
    assert pod.git("config", "user.email") == "dev@example.com"
    assert "ship" in pod.steps()


def test_ship_is_idempotent_and_keeps_the_agents_work(pod: Pod, local: Path) -> None:
    ctx = start_ctx(pod, local)
    pod.ensure(ctx)
    pod.git("add", "-A")
    pod.git("commit", "-q", "-m", "agent work")
    agent_head = pod.git("rev-parse", "HEAD")
    (pod.ws / "wip.txt").write_text("not committed yet\n")
    pod.events.clear()
    pod.ensure(ctx)  # resume / attach
    assert pod.steps() == []
    assert pod.git("rev-parse", "HEAD") == agent_head
    assert (pod.ws / "wip.txt").exists()


def test_ship_ignored_when_configured(pod: Pod, local: Path) -> None:
    pod.ensure(start_ctx(pod, local, ship_ignored=True))
    assert (pod.ws / "debug.log").read_text() == "ignored\n"


def test_dirty_files_only_ship_on_top_of_head(pod: Pod, local: Path) -> None:
    plan = git.plan(local, "s", prefix="kodama/", branch=None, base="other", repo=None)
    ctx = pod.ctx(local, branch=plan.branch, base_branch="other", base_commit=plan.base_commit)
    pod.ensure(ctx)
    assert pod.git("rev-parse", "HEAD") == sh(local, "git", "rev-parse", "other")
    assert (pod.ws / "kept.txt").read_text() == "v1\n"
    assert pod.git("status", "--porcelain") == ""


def test_an_unfinished_ship_is_redone(pod: Pod, local: Path) -> None:
    sh(pod.ws, "git", "init", "-q")  # an earlier attempt died before the marker
    (pod.ws / ".git" / "kodama-filling").touch()
    (pod.ws / "kept.txt").write_text("half checked out\n")
    pod.ensure(start_ctx(pod, local))
    assert pod.git("rev-parse", "HEAD") == sh(local, "git", "rev-parse", "HEAD")


def test_no_repository_gives_an_empty_repo_on_the_branch(pod: Pod) -> None:
    pod.ensure(pod.ctx(None, branch="kodama/s"))
    assert pod.git("symbolic-ref", "HEAD") == "refs/heads/kodama/s"
    assert pod.git("config", "user.name") == "Kodama agent"


def test_clone_a_local_bare_repository(pod: Pod, local: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    sh(tmp_path, "git", "clone", "-q", "--bare", str(local), str(bare))
    (pod.secrets / "git").mkdir()
    (pod.secrets / "git" / "token").write_text("tok-should-stay-in-the-file\n")
    plan = git.plan(tmp_path, "s", prefix="kodama/", branch=None, base=None, repo=f"file://{bare}")
    ctx = pod.ctx(
        None,
        branch=plan.branch,
        base_branch=plan.base_branch,
        base_commit=plan.base_commit,
        repo=plan.repo,
    )
    pod.ensure(ctx)
    assert pod.git("rev-parse", "--abbrev-ref", "HEAD") == "kodama/s"
    assert pod.git("rev-parse", "HEAD") == sh(local, "git", "rev-parse", "HEAD")
    assert pod.git("remote", "get-url", "origin") == f"file://{bare}"
    assert "tok-should" not in (pod.ws / ".git" / "config").read_text()
    assert (pod.home / ".kodama" / "bin" / "git-credential-kodama").is_file()


def test_clone_https_configures_the_scoped_helper(pod: Pod, tmp_path: Path) -> None:
    (pod.secrets / "git").mkdir()
    (pod.secrets / "git" / "token").write_text("tok\n")
    ctx = pod.ctx(None, branch="b", repo="https://127.0.0.1:9/none.git")
    with pytest.raises(KodamaError, match="cloning"):
        pod.ensure(ctx)  # nothing listens there; the config is written before the fetch
    config = (pod.ws / ".git" / "config").read_text()
    assert '[credential "https://127.0.0.1:9"]' in config
    assert 'helper = !\\"$HOME/.kodama/bin/git-credential-kodama\\"' in config
    assert "tok" not in config.replace("kodama", "")


def test_fetch_brings_the_agents_commit_back(pod: Pod, local: Path) -> None:
    ctx = start_ctx(pod, local)
    pod.ensure(ctx)
    (pod.ws / "f").write_text("x\n")
    pod.git("add", "f")
    pod.git("commit", "-q", "-m", "m")
    rep = Reporter(pod.events.append, "s")
    result = git.fetch(ctx, local, into=None, force=False, reporter=rep, cancel=CancelToken())
    assert result.local_branch == "kodama/s"
    assert result.commit == pod.git("rev-parse", "HEAD")
    assert (result.ahead, result.previous) == (1, None)
    assert sh(local, "git", "log", "-1", "--format=%s", "kodama/s") == "m"
    again = git.fetch(ctx, local, into=None, force=False, reporter=rep, cancel=CancelToken())
    assert again.previous == again.commit

    # A local commit on the fetched branch is never clobbered without --force.
    mine = sh(local, "git", "commit-tree", "-p", "main", "-m", "mine", "main^{tree}")
    sh(local, "git", "update-ref", "refs/heads/kodama/s", mine)
    with pytest.raises(KodamaError, match="has commits that are not on the session branch"):
        git.fetch(ctx, local, into=None, force=False, reporter=rep, cancel=CancelToken())
    forced = git.fetch(ctx, local, into=None, force=True, reporter=rep, cancel=CancelToken())
    assert forced.commit == result.commit
    other = git.fetch(ctx, local, into="review", force=False, reporter=rep, cancel=CancelToken())
    assert sh(local, "git", "rev-parse", "review") == result.commit and other.ahead == 1
    sh(local, "git", "stash", "-u", "-q")
    sh(local, "git", "checkout", "-q", "review")
    with pytest.raises(KodamaError, match="is checked out"):
        git.fetch(ctx, local, into="review", force=False, reporter=rep, cancel=CancelToken())


def test_ahead_counts_from_the_base(pod: Pod, local: Path) -> None:
    ctx = start_ctx(pod, local)
    pod.ensure(ctx)
    assert git.ahead(ctx) == 0
    pod.git("commit", "-q", "--allow-empty", "-m", "a")
    pod.git("commit", "-q", "--allow-empty", "-m", "b")
    assert git.ahead(ctx) == 2
    # --repo sessions whose base was unknown at start read it from the workspace.
    assert git.ahead(pod.ctx(None, branch="kodama/s")) == 2


def test_the_in_pod_script_refuses_arguments_that_look_like_options(pod: Pod) -> None:
    """Defence in depth (issue 16 item 6): a value from a tampered spec never becomes a git option."""
    with pytest.raises(KodamaError, match="starts with '-'"):
        git._workspace(pod.ctx(None, branch="b"), "init", ["--template=/tmp/evil"], what="init")
    assert not (pod.ws / ".git").exists()


# -- issue 16 item 3: the workspace is never wiped ---------------------------------------------


def agent_loses_the_marker(pod: Pod, local: Path) -> tuple[PodContext, str]:
    """Fill, let the agent commit, then lose kodama.ready the way an agent casually could."""
    ctx = start_ctx(pod, local)
    pod.ensure(ctx)
    (pod.ws / "agent.txt").write_text("agent work\n")
    pod.git("add", "-A")
    pod.git("commit", "-q", "-m", "agent work")
    pod.git("config", "--unset", "kodama.ready")
    pod.events.clear()
    return ctx, pod.git("rev-parse", "HEAD")


def test_a_workspace_that_lost_its_marker_is_never_wiped(pod: Pod, local: Path) -> None:
    ctx, head = agent_loses_the_marker(pod, local)
    with pytest.raises(KodamaError, match="never filled by Kodama") as exc:
        pod.ensure(ctx)  # no word from the PVC (an older session): the script itself refuses
    assert exc.value.hint and "nothing was changed" in exc.value.hint
    assert pod.git("rev-parse", "HEAD") == head
    assert (pod.ws / "agent.txt").read_text() == "agent work\n"


def test_a_filled_workspace_is_only_checked(pod: Pod, local: Path) -> None:
    """resume/attach of a session whose PVC says "ready": a warning, no error, nothing touched."""
    ctx, head = agent_loses_the_marker(pod, local)
    git.ensure_workspace(ctx, Reporter(pod.events.append, "s"), CancelToken(), filled=True)
    assert pod.git("rev-parse", "HEAD") == head
    warnings = [e.message for e in pod.events if e.kind == "warning"]
    assert len(warnings) == 1 and "not filled again" in warnings[0]


def test_a_replaced_git_folder_is_not_deleted(pod: Pod, local: Path) -> None:
    ctx, _ = agent_loses_the_marker(pod, local)
    for p in pod.ws.iterdir():  # the agent removed every file, and started a new repository
        if p.name != ".git":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    pod.git("tag", "precious")
    with pytest.raises(KodamaError, match="never filled by Kodama"):
        pod.ensure(ctx)
    assert pod.git("rev-parse", "precious")
    assert (pod.ws / ".git").is_dir()


# -- issue 16 item 9: shipping streams, and unpacks on the workspace volume --------------------


def test_shipping_streams_the_bundle(pod: Pod, local: Path) -> None:
    """A 24 MB history is never held in memory (it was, three times over)."""
    (local / "big.bin").write_bytes(os.urandom(24 * 2**20))  # random: the bundle cannot shrink it
    sh(local, "git", "add", "big.bin")
    sh(local, "git", "commit", "-q", "-m", "big")
    ctx = start_ctx(pod, local)
    tracemalloc.start()
    try:
        pod.ensure(ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (pod.ws / "big.bin").stat().st_size == 24 * 2**20
    assert peak < 8 * 2**20, f"peak Python memory while shipping: {peak / 2**20:.1f} MiB"


def test_ship_unpacks_on_the_workspace_volume(pod: Pod, local: Path) -> None:
    """The home volume may be small or full: nothing of the payload is written there."""
    (pod.home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {pod.ws}\n")
    # Nothing can be created under $HOME/.kodama (a file there: even root cannot mkdir in it).
    (pod.home / ".kodama").write_text("not a folder\n")
    pod.ensure(start_ctx(pod, local))
    assert (pod.ws / "kept.txt").read_text() == "v3 dirty\n"
    assert not (pod.ws / ".git" / "kodama-ship").exists()
