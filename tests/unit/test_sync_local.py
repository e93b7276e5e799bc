"""The whole bridge with the real mutagen, no cluster: a stand-in `kubectl` runs `exec` locally.

Skipped when no mutagen is found (KODAMA_MUTAGEN, PATH, or the test control plane's build).
The cluster variant (tests/cluster/test_sync.py) runs the same story through real kubectl.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kodama.errors import KodamaError
from kodama.events import CancelToken, Event, Reporter
from kodama.k8s.runtime import PodContext
from kodama.store import Store
from kodama.sync import session as sync
from kodama.sync import tarcopy as sync_copy
from tests.fixtures import fake_kubectl
from tests.fixtures.specs import pod_context


def find_mutagen() -> str | None:
    env = os.environ.get("KODAMA_MUTAGEN")
    if env:
        return env
    built = sorted(glob.glob(os.path.expanduser("~/.cache/kodama-testenv/*/bin/mutagen")))
    return shutil.which("mutagen") or (built[-1] if built else None)


MUTAGEN = find_mutagen()
needs_mutagen = pytest.mark.skipif(MUTAGEN is None, reason="mutagen is not installed")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


@pytest.fixture
def bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PodContext]:
    kubectl = fake_kubectl.install(tmp_path)
    pod = tmp_path / "pod"
    (pod / "home").mkdir(parents=True)
    (pod / "workspace").mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "a.txt").write_text("one\n")
    (repo / "b.txt").write_text("two\n")
    (repo / "debug.log").write_text("noise\n")
    (pod / "workspace" / "a.txt").write_text("one\n")  # as if shipped by git
    monkeypatch.setenv("KODAMA_HOME", str(tmp_path / "kh"))
    monkeypatch.setenv("KODAMA_KUBECTL", str(kubectl))
    monkeypatch.setenv("KODAMA_MUTAGEN", MUTAGEN or str(tmp_path / "no-mutagen"))
    monkeypatch.setenv("FAKE_POD_ROOT", str(pod))
    ctx = pod_context(repo, namespace="team-a")
    try:
        yield ctx
    finally:
        if MUTAGEN is not None:
            sync.stop(Store(), "team-a", "demo")
            m = sync.Mutagen()
            if m.daemon_running():  # never leave a daemon behind, even when the test failed
                m.run("daemon", "stop", check=False)


@needs_mutagen
def test_live_sync_both_ways_safely(bridge: PodContext) -> None:
    events: list[Event] = []
    assert bridge.local_path is not None
    repo = bridge.local_path
    ws = repo.parent / "pod" / "workspace"
    st = sync.start(bridge, Store(), Reporter(events.append, "demo"), CancelToken())
    assert st is not None and st.mutagen_session == "kodama-team-a-demo"
    assert (repo.parent / "pod" / "home" / ".mutagen" / "agents").is_dir()  # installed via scp
    wait_for(lambda: read(ws / "b.txt") == "two\n", "the initial sync")
    assert not (ws / "debug.log").exists()  # .gitignore honoured
    assert not (ws / ".git").exists()  # VCS folders stay out

    (repo / "a.txt").write_text("local edit\n")
    wait_for(lambda: read(ws / "a.txt") == "local edit\n", "local -> pod")
    (ws / "c.txt").write_text("from the agent\n")
    wait_for(lambda: read(repo / "c.txt") == "from the agent\n", "pod -> local")

    # A conflicting edit on both sides: reported, neither side overwritten.
    sync.control(Store(), "team-a", "demo", "pause")
    (repo / "a.txt").write_text("mine\n")
    (ws / "a.txt").write_text("theirs\n")
    sync.control(Store(), "team-a", "demo", "resume")
    sync.control(Store(), "team-a", "demo", "flush")
    wait_for(lambda: bool((sync.status(Store(), "team-a", "demo") or st).conflicts), "the conflict")
    st2 = sync.status(Store(), "team-a", "demo")
    assert st2 is not None and [c.path for c in st2.conflicts] == ["a.txt"]
    assert (repo / "a.txt").read_text() == "mine\n" and (ws / "a.txt").read_text() == "theirs\n"

    # Starting again is a no-op.
    assert sync.start(bridge, Store(), Reporter(events.append, "demo"), CancelToken()) is not None
    assert len(sync.Mutagen().list()) == 1

    # Stop: the mutagen session and the daemon go away; both sides keep their files.
    assert sync.stop(Store(), "team-a", "demo") is True
    assert not sync.Mutagen().daemon_running()
    assert (ws / "c.txt").exists() and (repo / "c.txt").exists()


@needs_mutagen
def test_deleting_the_local_root_never_empties_the_pod(bridge: PodContext) -> None:
    assert bridge.local_path is not None
    repo = bridge.local_path
    ws = repo.parent / "pod" / "workspace"
    sync.start(bridge, Store(), Reporter(lambda e: None, "demo"), CancelToken())
    wait_for(lambda: read(ws / "b.txt") == "two\n", "the initial sync")
    shutil.rmtree(repo)
    wait_for(
        lambda: (
            (sync.status(Store(), "team-a", "demo") or sync.SyncStatus(name="x")).state == "halted"
        ),
        "mutagen to halt",
    )
    st = sync.status(Store(), "team-a", "demo")
    assert st is not None and "deleted" in (st.last_error or "")
    # rmtree deletes one file at a time and a scan may see a file gone before the root is:
    # that deletion propagates like any other. What mutagen refuses is emptying the root, and
    # it stays halted.
    left = sorted(p.name for p in ws.iterdir())
    assert left and set(left) <= {".gitignore", "a.txt", "b.txt"}


def test_push_and_pull_honour_the_excludes(bridge: PodContext) -> None:
    assert bridge.local_path is not None
    repo = bridge.local_path
    ws = repo.parent / "pod" / "workspace"
    (repo / "sub").mkdir()
    (repo / "sub" / "x.txt").write_text("x\n")
    (repo / "sub" / "scratch.tmp").write_text("tmp\n")
    assert sync_copy.push(bridge, repo, "", ["*.tmp"]) == 4  # .gitignore a.txt b.txt sub/x.txt
    assert (ws / "sub" / "x.txt").read_text() == "x\n"
    assert not (ws / "debug.log").exists() and not (ws / "sub" / "scratch.tmp").exists()
    assert not (ws / ".git").exists()
    assert sync_copy.push(bridge, repo, "sub") == 2

    (ws / "sub" / "y.txt").write_text("from pod\n")
    (ws / "pod.log").write_text("ignored\n")
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/x\n")
    (ws / "a.txt").write_text("pod version\n")
    assert sync_copy.pull(bridge, repo, "sub") == 3  # x.txt y.txt scratch.tmp (not excluded)
    assert (repo / "sub" / "y.txt").read_text() == "from pod\n"
    assert (repo / "a.txt").read_text() == "one\n"  # outside PATH: untouched
    # a.txt is an uncommitted local file (nothing is committed here): overwriting needs force
    assert sync_copy.pull(bridge, repo, "", ["*.tmp"], force=True) == 5
    assert (repo / "a.txt").read_text() == "pod version\n"
    assert not (repo / "pod.log").exists()
    assert (repo / ".git" / "HEAD").read_text() != "ref: refs/heads/x\n"


# -- issue 16 item 1: pulled files never reach .git; local changes are not clobbered ------------


def _pod_ws(ctx: PodContext) -> Path:
    assert ctx.local_path is not None
    return ctx.local_path.parent / "pod" / "workspace"


@pytest.mark.parametrize(
    "evil",
    [".GIT/config", ".Git/hooks/pre-commit", "sub/.gIt/config", ".git./config", "GIT~1/config",
     "\u200c.git/config", "\uff0egit/config"],
)  # fmt: skip
def test_pull_never_writes_into_git_however_it_is_spelled(bridge: PodContext, evil: str) -> None:
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    before = (repo / ".git" / "config").read_text()
    (ws / evil).parent.mkdir(parents=True, exist_ok=True)
    (ws / evil).write_text("[core]\n\thooksPath = /tmp/evil\n")
    (ws / "fine.txt").write_text("ok\n")
    with pytest.raises(KodamaError, match=r"would land in \.git"):
        sync_copy.pull(bridge, repo)
    assert (repo / ".git" / "config").read_text() == before
    assert not (repo / evil).exists() and not (repo / "fine.txt").exists()


def test_pull_never_writes_through_a_link_into_git(bridge: PodContext) -> None:
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    (ws / "hooks").symlink_to(".git/hooks")  # pulled first, then used as a folder
    (ws / "sub").mkdir()
    (ws / "sub" / "x").write_text("x\n")
    with pytest.raises(KodamaError, match=r"link into \.git"):
        sync_copy.pull(bridge, repo)
    (ws / "hooks").unlink()
    (repo / "tools").symlink_to(".git/hooks")  # a local link the pod's files would go through
    (ws / "tools").mkdir()
    (ws / "tools" / "pre-commit").write_text("#!/bin/sh\nevil\n")
    with pytest.raises(KodamaError, match=r"local link leads into \.git"):
        sync_copy.pull(bridge, repo)
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_pull_refuses_to_overwrite_uncommitted_changes(bridge: PodContext) -> None:
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (ws / "b.txt").write_text("two\n")  # same as local: no conflict
    (ws / "a.txt").write_text("pod edit\n")
    (repo / "a.txt").write_text("my local edit\n")  # uncommitted, differs from the pod's
    (ws / "new.txt").write_text("pod\n")
    (repo / "new.txt").write_text("mine, untracked\n")
    with pytest.raises(KodamaError, match=r"2 file\(s\): a.txt, new.txt") as exc:
        sync_copy.pull(bridge, repo)
    assert exc.value.hint and "--force" in exc.value.hint
    assert (repo / "a.txt").read_text() == "my local edit\n"
    assert (repo / "new.txt").read_text() == "mine, untracked\n"
    # A committed file is overwritten without --force (git has the old content).
    subprocess.run([*git, "checkout", "-q", "a.txt"], check=True)
    (repo / "new.txt").unlink()
    assert sync_copy.pull(bridge, repo) == 3
    assert (repo / "a.txt").read_text() == "pod edit\n"
    (repo / "a.txt").write_text("again mine\n")
    (ws / "a.txt").write_text("pod edit 2\n")
    assert sync_copy.pull(bridge, repo, force=True) == 3
    assert (repo / "a.txt").read_text() == "pod edit 2\n"


@needs_mutagen
def test_live_sync_never_brings_a_git_lookalike(bridge: PodContext) -> None:
    """Issue 16 item 1: on macOS or Windows `.GIT/config` from the pod would be `.git/config`."""
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    sync.start(bridge, Store(), Reporter(lambda e: None, "demo"), CancelToken())
    wait_for(lambda: read(ws / "b.txt") == "two\n", "the initial sync")
    for evil in (".GIT/config", ".Git/hooks/post-checkout", "sub/.gIt/config", "GIT~1/config"):
        (ws / evil).parent.mkdir(parents=True, exist_ok=True)
        (ws / evil).write_text("[core]\n\tfsmonitor = touch /tmp/pwned\n")
    (ws / "marker.txt").write_text("after\n")
    sync.control(Store(), "team-a", "demo", "flush")
    wait_for(lambda: read(repo / "marker.txt") == "after\n", "pod -> local")
    assert sorted(p.name for p in repo.iterdir()) == [
        ".git",
        ".gitignore",
        "a.txt",
        "b.txt",
        "debug.log",
        "marker.txt",
        "sub",
    ]
    assert list((repo / "sub").iterdir()) == []


# -- issue 18: the first sync is seeded by one tar stream, then mutagen finds an equal tree ------


def _staged_on_beta(log: Path) -> list[str]:
    """The daemon's (MUTAGEN_LOG_LEVEL=debug) lines saying it sent files to the pod."""
    text = log.read_text() if log.is_file() else ""
    return [line for line in text.splitlines() if "Staging" in line and "on beta" in line]


@needs_mutagen
def test_a_new_sync_is_seeded_and_mutagen_transfers_nothing(
    bridge: PodContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUTAGEN_LOG_LEVEL", "debug")  # the daemon logs each staging
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    (repo / "tree").mkdir()
    for i in range(50):
        (repo / "tree" / f"f{i:02d}.txt").write_text(f"file {i}\n")
    (ws / ".kodama-seed.0dead" / "f").mkdir(parents=True)  # left by a seed that was killed
    (ws / ".kodama-seed.0dead" / "f" / "half.txt").write_text("half")
    events: list[Event] = []
    sync.start(bridge, Store(), Reporter(events.append, "demo"), CancelToken())
    steps = [e.step for e in events if e.kind.value == "step"]
    assert steps == ["sync", "seed"], events
    assert any(e.message == "Seeded 52 file(s)" for e in events), events
    # In the pod the moment start returns, before mutagen's first cycle.
    assert (ws / "tree" / "f49.txt").read_text() == "file 49\n"
    assert (ws / "b.txt").read_text() == "two\n" and not (ws / "debug.log").exists()
    sync.control(Store(), "team-a", "demo", "flush")
    log = sync.Mutagen().data_dir / "kodama-daemon.log"
    assert _staged_on_beta(log) == []
    st = sync.status(Store(), "team-a", "demo")
    assert st is not None and st.conflicts == [] and st.problems == []

    # A change made afterwards goes through mutagen as usual, and the log shows it.
    (repo / "late.txt").write_text("later\n")
    wait_for(lambda: read(ws / "late.txt") == "later\n", "local -> pod")
    (ws / "tree" / "f00.txt").write_text("agent\n")
    wait_for(lambda: read(repo / "tree" / "f00.txt") == "agent\n", "pod -> local")
    assert len(_staged_on_beta(log)) == 1
    assert not (repo / ".kodama-seed.0dead").exists()  # the live sync ignores staging folders


@needs_mutagen
def test_the_seed_keeps_what_the_agent_wrote(bridge: PodContext) -> None:
    """A resumed session's workspace: the seed adds, mutagen compares, nothing is clobbered."""
    assert bridge.local_path is not None
    repo, ws = bridge.local_path, _pod_ws(bridge)
    (ws / "a.txt").write_text("the agent's work\n")
    (ws / "notes.md").write_text("only in the pod\n")
    events: list[Event] = []
    sync.start(bridge, Store(), Reporter(events.append, "demo"), CancelToken())
    assert any(e.message == "Seeded 2 file(s)" for e in events), events  # .gitignore, b.txt
    wait_for(lambda: read(repo / "notes.md") == "only in the pod\n", "pod -> local")
    sync.control(Store(), "team-a", "demo", "flush")
    st = sync.status(Store(), "team-a", "demo")
    assert st is not None and [c.path for c in st.conflicts] == ["a.txt"]
    assert (ws / "a.txt").read_text() == "the agent's work\n"
    assert (repo / "a.txt").read_text() == "one\n"


@needs_mutagen
def test_a_failed_seed_leaves_the_first_sync_to_mutagen(
    bridge: PodContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kodama.sync import seed

    assert bridge.local_path is not None
    ws = _pod_ws(bridge)

    def broken(*args: object) -> object:
        on_plan = args[-1]
        assert callable(on_plan)
        on_plan(seed.Plan(str(ws), ["b.txt"], ["b.txt"], 4))  # the probe answered
        raise seed.SeedFailed("seeding the workspace failed: tar: Unexpected EOF")

    monkeypatch.setattr(seed, "run", broken)
    events: list[Event] = []
    sync.start(bridge, Store(), Reporter(events.append, "demo"), CancelToken())
    warnings = [e.message for e in events if e.kind.value == "warning"]
    assert warnings == [
        "seeding the workspace failed: tar: Unexpected EOF; mutagen copies the files instead"
    ]
    wait_for(lambda: read(ws / "b.txt") == "two\n", "mutagen's own first sync")


@needs_mutagen
def test_a_start_that_fails_before_mutagen_leaves_no_daemon(
    bridge: PodContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kodama.sync import seed

    def gone(*args: object, **kwargs: object) -> seed.Plan:
        raise KodamaError("reading the workspace failed: pods \"kodama-demo\" not found")

    monkeypatch.setattr(seed, "run", gone)
    with pytest.raises(KodamaError, match="not found"):
        sync.start(bridge, Store(), Reporter(lambda e: None, "demo"), CancelToken())
    assert not sync.Mutagen().daemon_running()
    assert (Store().read("team-a", "demo") or {}).get("sync")  # the wish to sync is kept
