"""The tar seed of a new sync: what it picks, where it places, what it never touches.

The pod side runs for real: a stand-in `kubectl` (test_sync_local's) runs the in-pod scripts
with the local `sh`, `tar` and `mv`, in a fake pod folder. The whole start, with the real
mutagen, is in test_sync_local.py.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kodama.errors import RemoteCommandFailed
from kodama.events import CancelToken
from kodama.k8s.runtime import PodContext
from kodama.sync import seed

from .test_sync_local import bridge  # noqa: F401  (the fixture)


@pytest.mark.parametrize(
    ("path", "target", "carried"),
    [
        ("link", "a.txt", True),
        ("sub/link", "../a.txt", True),
        ("sub/link", "./x/../y", True),
        ("link", "../outside", False),
        ("sub/link", "../../outside", False),
        ("link", "x/../../outside", False),
        ("link", "/etc/passwd", False),
        ("link", "C:file", False),
        ("link", "a\\b", False),
        ("link", "", False),
        ("link", "x" * 248, False),
    ],
)
def test_links_follow_mutagens_portable_rules(path: str, target: str, carried: bool) -> None:
    assert seed.portable_link(path, target) is carried


def test_roots_are_the_highest_missing_folders() -> None:
    files = ["new/a/x", "new/a/y", "new/b", "old/c", "old/deep/d", "top"]
    missing = {"new", "new/a", "new/a/x", "new/a/y", "new/b", "old/c", "old/deep", "old/deep/d",
               "top"}  # fmt: skip
    assert seed.place(files, missing) == ["new", "old/c", "old/deep", "top"]
    assert seed.ancestors("a/b/c") == ["a", "a/b"] and seed.ancestors("c") == []


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_candidates_are_what_the_live_sync_carries(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "a.txt").write_text("a\n")
    (repo / "x.log").write_text("ignored\n")
    (repo / "sub" / "scratch.tmp").write_text("excluded\n")
    (repo / "sub" / "in.lnk").symlink_to("../a.txt")
    (repo / "out.lnk").symlink_to("../elsewhere")
    (repo / "abs.lnk").symlink_to("/etc/hostname")
    (repo / "two\nlines").write_text("a name the pod script cannot read\n")
    (repo / ".kodama-seed.1234").mkdir()
    (repo / ".kodama-seed.1234" / "f").write_text("a staging name\n")
    got = seed.candidates(repo, ["*.tmp"])
    assert got == {".gitignore": 6, "a.txt": 2, "sub/in.lnk": 0}


class _Stop(Exception):
    pass


def plan_of(ctx: PodContext, repo: Path) -> seed.Plan:
    """The plan of a seed stopped right after the probe (which sends nothing: `on_plan` raised)."""
    seen: list[seed.Plan] = []

    def stop(plan: seed.Plan) -> None:
        seen.append(plan)
        raise _Stop

    with pytest.raises(_Stop):
        seed.run(ctx, repo, [], CancelToken(), stop)
    return seen[0]


@pytest.fixture
def pod(bridge: PodContext) -> tuple[PodContext, Path, Path]:  # noqa: F811
    assert bridge.local_path is not None
    return bridge, bridge.local_path, bridge.local_path.parent / "pod" / "workspace"


def test_seed_places_what_the_pod_lacks_and_nothing_else(
    pod: tuple[PodContext, Path, Path],
) -> None:
    ctx, repo, ws = pod
    (ws / "a.txt").write_text("the agent's version\n")
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / "deep" / "er" / "c.txt").write_text("c\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o700)
    (repo / "private.txt").write_text("p\n")
    (repo / "private.txt").chmod(0o600)
    seen: list[seed.Plan] = []
    plan, placed = seed.run(ctx, repo, [], CancelToken(), seen.append)
    assert seen == [plan]
    assert plan.workspace == str(ws)
    assert plan.files == [".gitignore", "b.txt", "deep/er/c.txt", "private.txt", "run.sh"]
    assert plan.roots == [".gitignore", "b.txt", "deep", "private.txt", "run.sh"]
    assert plan.size == 6 + 4 + 2 + 2 + 10
    assert placed == 5
    assert (ws / "a.txt").read_text() == "the agent's version\n"  # never overwritten
    assert (ws / "deep" / "er" / "c.txt").read_text() == "c\n"
    assert not (ws / "debug.log").exists()  # git-ignored
    # The modes mutagen gives the files it creates: the first scan finds both sides equal.
    assert (ws / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (ws / "private.txt").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in ws.iterdir() if p.name.startswith(seed.STAGING_PREFIX)] == []
    assert seed.run(ctx, repo, [], CancelToken()) == (seed.Plan(str(ws)), 0)  # nothing to send


def test_seed_never_writes_through_a_link_or_over_a_file(
    pod: tuple[PodContext, Path, Path],
) -> None:
    ctx, repo, ws = pod
    outside = repo.parent / "outside"
    outside.mkdir()
    (ws / "sub").symlink_to(outside)  # the agent made a link out of the workspace
    (ws / "plain").write_text("a file in the pod\n")
    for rel in ("sub/x.txt", "plain/y.txt", "ok/z.txt"):
        (repo / rel).parent.mkdir(exist_ok=True)
        (repo / rel).write_text(rel)
    plan, placed = seed.run(ctx, repo, [], CancelToken())
    assert {"sub/x.txt", "plain/y.txt", "ok/z.txt"} <= set(plan.files)
    assert placed == len(plan.files) - 2
    assert list(outside.iterdir()) == []
    assert (ws / "plain").read_text() == "a file in the pod\n"
    assert (ws / "ok" / "z.txt").read_text() == "ok/z.txt"


def test_a_file_that_appears_meanwhile_is_kept(pod: tuple[PodContext, Path, Path]) -> None:
    ctx, repo, ws = pod

    def agent_writes(plan: seed.Plan) -> None:
        assert "b.txt" in plan.files
        (ws / "b.txt").write_text("written by the agent after the probe\n")

    plan, placed = seed.run(ctx, repo, [], CancelToken(), agent_writes)
    assert placed == len(plan.files) - 1
    assert (ws / "b.txt").read_text() == "written by the agent after the probe\n"


@pytest.mark.parametrize("cut", [0.5, 0.77])  # at a member's boundary (tar sees no error), in one
def test_an_interrupted_stream_places_nothing(
    pod: tuple[PodContext, Path, Path], cut: float
) -> None:
    ctx, repo, ws = pod
    (repo / "big").mkdir()
    for i in range(20):
        (repo / "big" / f"f{i}").write_bytes(os.urandom(4096))
    plan = plan_of(ctx, repo)
    buf = io.BytesIO()
    seed._writer(repo, plan, CancelToken())(buf)
    before = sorted(p.name for p in ws.iterdir())
    argv = ctx.kubectl.script_argv(ctx.pod, seed._RECEIVE, [".kodama-seed.test"], stdin=True)
    data = buf.getvalue()
    done = subprocess.run(argv, input=data[: int(len(data) * cut)], capture_output=True)
    assert done.returncode != 0
    assert sorted(p.name for p in ws.iterdir()) == before  # no half file, no staging left


def test_a_file_changed_while_read_is_not_placed(pod: tuple[PodContext, Path, Path]) -> None:
    """An editor saving during the seed: the torn copy stays out, mutagen sends the file."""
    ctx, repo, ws = pod
    plan = plan_of(ctx, repo)
    assert plan.files == [".gitignore", "b.txt"]

    class SaveDuringRead(io.BytesIO):
        def write(self, data: bytes, /) -> int:  # type: ignore[override]
            if data == b"two\n":  # b.txt's content is being streamed: the user saves it
                (repo / "b.txt").write_text("two, edited while the seed read it\n")
            return super().write(data)

    buf = SaveDuringRead()
    seed._writer(repo, plan, CancelToken())(buf)
    argv = ctx.kubectl.script_argv(ctx.pod, seed._RECEIVE, [".kodama-seed.test"], stdin=True)
    done = subprocess.run(argv, input=buf.getvalue(), capture_output=True, check=True)
    assert set(done.stdout.split()) == {b"b.txt"}  # reported as not placed
    assert not (ws / "b.txt").exists()
    assert (ws / ".gitignore").read_text() == "*.log\n"
    assert not (ws / ".kodama-seed.test").exists()


@pytest.mark.parametrize(
    ("name", "size", "mode", "mtime"),
    [
        ("f/tree/d000/f00001.txt", 10_000, 0o644, 1_764_490_000),
        ("f/run.sh", 0, 0o755, 0),
        ("f/" + "x" * 98, 1, 0o644, 1),
    ],
)
def test_hand_written_headers_are_tarfiles_own(name: str, size: int, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, mtime
    assert seed._ustar(name, size, mode, mtime) == info.tobuf(tarfile.PAX_FORMAT)


@pytest.mark.parametrize("name", ["f/" + "x" * 99, "f/caf\u00e9.txt"])
def test_long_or_non_ascii_names_take_tarfiles_pax_headers(name: str) -> None:
    assert seed._ustar(name, 1, 0o644, 1) is None
    with tarfile.open(fileobj=io.BytesIO(seed._header(name, size=0, mode=0o644, mtime=1))) as t:
        assert t.getnames() == [name]


def test_long_and_non_ascii_names_arrive(pod: tuple[PodContext, Path, Path]) -> None:
    ctx, repo, ws = pod
    long = "n" * 40 + "/" + "\u00fc" * 60 + ".txt"
    (repo / long).parent.mkdir()
    (repo / long).write_text("umlauts\n")
    (repo / "link").symlink_to("b.txt")
    plan, placed = seed.run(ctx, repo, [], CancelToken())
    assert placed == len(plan.files) == 4
    assert (ws / long).read_text() == "umlauts\n"
    assert os.readlink(ws / "link") == "b.txt"


def test_a_failed_probe_is_an_error_not_a_skipped_seed(pod: tuple[PodContext, Path, Path]) -> None:
    """One exec does both: a start must still fail when the pod cannot be read at all."""
    ctx, repo, ws = pod
    shutil.rmtree(ws)
    with pytest.raises(RemoteCommandFailed, match="reading the workspace failed") as info:
        seed.run(ctx, repo, [], CancelToken())
    assert not isinstance(info.value, seed.SeedFailed)


def test_a_failed_stream_after_the_probe_is_a_seed_failure(
    pod: tuple[PodContext, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, repo, ws = pod
    monkeypatch.setattr(seed.secrets, "token_hex", lambda n: "taken")
    (ws / f"{seed.STAGING_PREFIX}taken").write_text("not a folder: the staging mkdir fails\n")
    seen: list[seed.Plan] = []
    with pytest.raises(seed.SeedFailed, match="seeding the workspace failed"):
        seed.run(ctx, repo, [], CancelToken(), seen.append)
    assert seen and seen[0].files == [".gitignore", "b.txt"]
    assert not (ws / "b.txt").exists()
