"""Issue 6 on the test control plane: live two-way sync with the real mutagen, and push/pull.

The simulated node runs `kubectl exec` as local processes with HOME and KODAMA_WORKSPACE pointed
at per-PVC folders, so the mutagen agent Kodama's scp shim installs really runs and writes there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .conftest import Kodama, session_config, session_image

pytestmark = pytest.mark.cluster


def wait_for(
    check: Callable[[], bool], what: str, timeout: float = 60, k: Kodama | None = None
) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.1)
    detail = ""
    if k is not None:  # say what mutagen thinks, and what its daemon logged
        detail = "\n" + k.run("sync", "status", "s1", check=False).stdout
        detail += (
            f"\nlocal b.txt: {(k.cwd / 'b.txt').read_text()!r}, pod: {pod_read(k, 's1', 'b.txt')!r}"
        )
        listed = mutagen(k, "sync", "list", "-l")
        detail += "\n" + listed.stdout[-3000:] + listed.stderr
        log = k.home / "mutagen" / "kodama-daemon.log"
        if log.is_file():
            detail += "\n" + "\n".join(log.read_text().splitlines()[-60:])
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{detail}")


def pod_read(kodama: Kodama, name: str, rel: str) -> str | None:
    proc = kodama.run(
        "attach", name, "--", "sh", "-c", f'cat "$KODAMA_WORKSPACE/{rel}"', check=False
    )
    return proc.stdout if proc.returncode == 0 else None


def pod_write(kodama: Kodama, name: str, rel: str, text: str) -> None:
    kodama.run(
        "attach", name, "--", "sh", "-c", f'printf %s "$1" > "$KODAMA_WORKSPACE/{rel}"', "x", text
    )


def mutagen_env(kodama: Kodama) -> dict[str, str]:
    env = kodama.environ()
    env["MUTAGEN_DATA_DIRECTORY"] = str(kodama.home / "mutagen")
    env["MUTAGEN_DISABLE_AUTOSTART"] = "1"
    return env


def mutagen(kodama: Kodama, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mutagen", *args], env=mutagen_env(kodama), capture_output=True, text=True, check=False
    )


def status(kodama: Kodama, name: str) -> dict[str, Any]:
    data: dict[str, Any] = kodama.json("sync", "status", name)
    return data


@pytest.fixture
def synced(kodama: Kodama, mutagen_bin: Any, testenv: Any) -> Iterator[Kodama]:
    kodama.env["PATH"] = f"{mutagen_bin}{os.pathsep}{os.environ['PATH']}"
    kodama.env["MUTAGEN_LOG_LEVEL"] = "debug"  # the daemon's log is in the failure message
    kodama.write_config(session_config(session_image(testenv), sync={"exclude": ["scratch/"]}))
    (kodama.cwd / ".gitignore").write_text("*.log\n")
    (kodama.cwd / "b.txt").write_text("two\n")
    (kodama.cwd / "debug.log").write_text("noise\n")
    (kodama.cwd / "scratch").mkdir()
    (kodama.cwd / "scratch" / "x").write_text("excluded by config\n")
    subprocess.run(["git", "-C", str(kodama.cwd), "add", ".gitignore"], check=True)
    subprocess.run(["git", "-C", str(kodama.cwd), "commit", "-qm", "ignore"], check=True)
    started = kodama.run("start", "s1", timeout=300)
    assert "File sync" in started.stderr, started.stderr
    try:
        yield kodama
    finally:
        kodama.run("delete", "s1", "--yes", check=False)
        if mutagen(kodama, "sync", "list").returncode == 0:  # never leave a daemon behind
            mutagen(kodama, "daemon", "stop")


def test_live_sync_both_ways(synced: Kodama) -> None:
    k = synced
    wait_for(lambda: pod_read(k, "s1", "b.txt") == "two\n", "the initial sync")
    # (`start` ships uncommitted and untracked files with git; what sync adds later is what
    # the excludes must hold back.)
    (k.cwd / "scratch" / "late.txt").write_text("excluded by sync.exclude\n")
    (k.cwd / "late.log").write_text("ignored by .gitignore\n")
    (k.cwd / "marker.txt").write_text("synced\n")
    wait_for(lambda: pod_read(k, "s1", "marker.txt") == "synced\n", "a new file to sync")
    k.run("sync", "flush", "s1")
    assert pod_read(k, "s1", "late.log") is None
    assert pod_read(k, "s1", "scratch/late.txt") is None
    assert pod_read(k, "s1", "debug.log") is None
    st = status(k, "s1")
    assert st["connected"] and st["mutagenSession"] == f"kodama-{k.namespace}-s1"

    (k.cwd / "b.txt").write_text("local edit\n")
    wait_for(lambda: pod_read(k, "s1", "b.txt") == "local edit\n", "local -> pod", k=k)
    pod_write(k, "s1", "from-agent.txt", "agent wrote this\n")
    wait_for(lambda: (k.cwd / "from-agent.txt").is_file(), "pod -> local", k=k)
    assert (k.cwd / "from-agent.txt").read_text() == "agent wrote this\n"

    listed = k.json("list")
    row = next(s for s in listed["items"] if s["name"] == "s1")
    assert row["sync"]["state"] in ("watching", "scanning", "staging", "reconciling", "saving")


def test_conflicts_are_reported_not_resolved(synced: Kodama) -> None:
    k = synced
    wait_for(lambda: pod_read(k, "s1", "b.txt") == "two\n", "the initial sync")
    k.run("sync", "pause", "s1")
    (k.cwd / "b.txt").write_text("mine\n")
    pod_write(k, "s1", "b.txt", "theirs\n")
    k.run("sync", "resume", "s1")
    k.run("sync", "flush", "s1")
    wait_for(lambda: bool(status(k, "s1")["conflicts"]), "the conflict to be reported")
    st = status(k, "s1")
    assert [c["path"] for c in st["conflicts"]] == ["b.txt"]
    assert (k.cwd / "b.txt").read_text() == "mine\n"
    assert pod_read(k, "s1", "b.txt") == "theirs\n"
    text = k.run("sync", "status", "s1").stdout
    assert "b.txt" in text and "Conflicts:   1" in text


def test_deleting_the_local_root_keeps_the_pods_files(synced: Kodama) -> None:
    k = synced
    wait_for(lambda: pod_read(k, "s1", "b.txt") == "two\n", "the initial sync")
    shutil.rmtree(k.cwd)
    k.cwd = k.home  # the CLI needs an existing cwd

    def refused() -> bool:
        # Mutagen halts on a root deletion, or (here: the pod's .git is ignored content it
        # would have to delete) reports it as a conflict on the root. Either way: no deletion.
        st = status(k, "s1")
        return st["state"] == "halted" or any(c["path"] == "." for c in st["conflicts"])

    wait_for(refused, "mutagen to refuse the deletion")
    k.run("sync", "flush", "s1", check=False)
    # rmtree deletes one file at a time, and a scan between two deletions propagates the first
    # like any deletion; emptying the workspace is what mutagen refuses. The pod's .git is never
    # synced, so every committed file stays recoverable there.
    left = [f for f in ("b.txt", "README.md", ".gitignore") if pod_read(k, "s1", f) is not None]
    assert left
    shown = k.run("attach", "s1", "--", "sh", "-c", 'git -C "$KODAMA_WORKSPACE" show HEAD:README.md')
    assert shown.stdout == "hello\n"


def test_stop_and_delete_leave_no_mutagen_behind(synced: Kodama) -> None:
    k = synced
    wait_for(lambda: pod_read(k, "s1", "b.txt") == "two\n", "the initial sync")
    listed = json.loads(mutagen(k, "sync", "list", "--template", "{{ json . }}").stdout)
    assert [s["labels"] for s in listed] == [
        {"kodama-session": "s1", "kodama-namespace": k.namespace}
    ]
    k.run("stop", "s1")
    assert mutagen(k, "sync", "list").returncode != 0  # no daemon
    k.run("resume", "s1", timeout=300)  # the wish to sync survives stop/resume
    wait_for(lambda: status(k, "s1")["connected"], "sync to come back after resume")
    k.run("delete", "s1", "--yes")
    assert mutagen(k, "sync", "list").returncode != 0
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(k.home / "mutagen") not in ps


def test_push_and_pull_without_mutagen(kodama: Kodama) -> None:
    k = kodama  # sync disabled by the fixture's config, and mutagen not required
    (k.cwd / ".gitignore").write_text("*.log\n")
    (k.cwd / "sub").mkdir()
    (k.cwd / "sub" / "a.txt").write_text("pushed\n")
    (k.cwd / "debug.log").write_text("noise\n")
    k.run("start", "s2", timeout=300)
    try:
        out = k.run("sync", "push", "s2")
        assert "Pushed" in out.stderr
        assert pod_read(k, "s2", "sub/a.txt") == "pushed\n"
        assert pod_read(k, "s2", "debug.log") is None
        pod_write(k, "s2", "sub/new.txt", "from the pod\n")
        pod_write(k, "s2", "out.log", "pod noise\n")
        k.run("sync", "pull", "s2", "sub")
        assert (k.cwd / "sub" / "new.txt").read_text() == "from the pod\n"
        assert not (k.cwd / "out.log").exists()
        k.run("sync", "pull", "s2")
        assert not (k.cwd / "out.log").exists()  # ignored locally, never written
        assert k.json("sync", "status", "s2")["state"] == "off"
    finally:
        k.run("delete", "s2", "--yes", check=False)


def _staged_on_beta(k: Kodama) -> list[str]:
    """The daemon's debug lines saying it sent files to the pod."""
    log = k.home / "mutagen" / "kodama-daemon.log"
    text = log.read_text() if log.is_file() else ""
    return [line for line in text.splitlines() if "Staging" in line and "on beta" in line]


def test_a_later_sync_start_is_seeded_and_keeps_the_agents_files(
    kodama: Kodama, mutagen_bin: Any, testenv: Any
) -> None:
    """Issue 18: what the pod lacks goes in one tar stream; mutagen then finds an equal tree,
    and a file the agent already wrote is compared (a conflict), never overwritten."""
    k = kodama
    k.env["PATH"] = f"{mutagen_bin}{os.pathsep}{os.environ['PATH']}"
    k.env["MUTAGEN_LOG_LEVEL"] = "debug"
    k.write_config(session_config(session_image(testenv), sync={"exclude": ["scratch/"]}))
    k.run("start", "s3", "--no-sync", timeout=300)
    try:
        pod_write(k, "s3", "agent.txt", "the agent's work\n")
        (k.cwd / "agent.txt").write_text("mine\n")
        (k.cwd / "tree").mkdir()
        for i in range(30):
            (k.cwd / "tree" / f"f{i:02d}.txt").write_text(f"file {i}\n")
        (k.cwd / "scratch").mkdir()
        (k.cwd / "scratch" / "x").write_text("excluded by sync.exclude\n")
        # The seed only goes to the pod: these come back through mutagen's first cycle.
        made = 'mkdir "$KODAMA_WORKSPACE/made" && cd "$KODAMA_WORKSPACE/made" && ' + (
            'i=0; while [ $i -lt 1000 ]; do echo "pod $i" > "p$i.txt"; i=$((i+1)); done'
        )
        k.run("attach", "s3", "--", "sh", "-c", made)
        out = k.run("sync", "start", "s3", timeout=300)
        assert "Copying 30 file(s)" in out.stderr and "Seeded 30 file(s)" in out.stderr, out.stderr
        # `sync start` returned after that cycle: no flush, no waiting here. (The state it reports
        # may be a new scan already: mutagen's watcher sees the files the cycle just wrote.)
        assert "Comparing both sides (mutagen's first cycle)" in out.stderr, out.stderr
        assert len(list((k.cwd / "made").glob("p*.txt"))) == 1000
        assert (k.cwd / "made" / "p999.txt").read_text() == "pod 999\n"
        st = k.json("sync", "status", "s3")
        assert [c["path"] for c in st["conflicts"]] == ["agent.txt"]
        assert pod_read(k, "s3", "tree/f29.txt") == "file 29\n"
        assert pod_read(k, "s3", "scratch/x") is None
        k.run("sync", "flush", "s3")
        assert _staged_on_beta(k) == []  # mutagen's first cycle sent nothing to the pod
        assert pod_read(k, "s3", "agent.txt") == "the agent's work\n"
        assert (k.cwd / "agent.txt").read_text() == "mine\n"

        (k.cwd / "tree" / "f00.txt").write_text("changed later\n")
        wait_for(lambda: pod_read(k, "s3", "tree/f00.txt") == "changed later\n", "local -> pod")
        assert len(_staged_on_beta(k)) == 1

        k.run("sync", "stop", "s3")
        pod_write(k, "s3", "later.txt", "written while stopped\n")
        k.run("sync", "start", "s3", "--no-wait")  # set up; the cycle runs after it returns
        k.run("sync", "flush", "s3")
        assert (k.cwd / "later.txt").read_text() == "written while stopped\n"
    finally:
        k.run("delete", "s3", "--yes", check=False)
        if mutagen(k, "sync", "list").returncode == 0:
            mutagen(k, "daemon", "stop")
