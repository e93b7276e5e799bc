"""File sync: initial sync of a 5,000-file / 50 MB tree next to `tar c | kubectl exec -i … tar x`,
and single-edit propagation latency in each direction.

Reuses bench/sync_bench.py (the sync engineer's): its ClusterHarness starts the session and
knows where the pod's workspace lives on this host (on the test control plane exec runs on the
host), and its `run()` does the first sync plus the edit round trips. Its own tree is 5,000 files
of ~1 KB; here `make_tree` is swapped for one of ~10 KB files (50 MB), as the issue asks.

Initial sync, Kodama side: `kubectl kodama sync start` alone: it returns once mutagen's first
cycle is done (both trees equal; the bench checks the last file is in the pod then). Its
progress lines are stamped as they come, for the split in the note. The first sync (inside
`run()`, followed by a `sync flush`) also installs the mutagen agent in the pod and is reported
in the note; the measured rounds stop the sync, empty the pod's copy, and start a fresh mutagen
session (agent already installed, as after a resume).
Floor: `tar c tree | kubectl exec -i POD -- tar x` into a folder of the pod's HOME (outside the
synced workspace), emptied before each round.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sync_bench
from harness import BenchError, Env, Row, Target, load1

FILE_BYTES = 10_000  # 5,000 files x 10 KB = 50 MB


def make_tree(root: Path, files: int) -> None:
    """sync_bench's layout (100 files per folder, same names), ~10 KB per file."""
    per_dir = 100
    for i in range(files):
        d = root / "tree" / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        head = f"file {i}\n".encode()
        (d / f"f{i:05d}.txt").write_bytes(head + bytes([97 + i % 26]) * (FILE_BYTES - len(head)))


def _count(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.txt"))


def bench(env: Env, runs: int, *, quick: bool = False) -> list[Row]:
    files = 1000 if quick else 5000
    edits = 5 if quick else 20
    rounds = max(1, min(runs, 3))  # each round moves 50 MB twice: keep it short
    mutagen = sync_bench.find_mutagen()
    work = Path(tempfile.mkdtemp(prefix="kodama-bench-sync-"))
    h = sync_bench.ClusterHarness(work, mutagen, str(env.kubeconfig))
    sync_bench.make_tree = make_tree  # the 50 MB tree
    before = load1()
    try:
        first = sync_bench.run(h, edits, files)
        if first["files_in_pod"] != files:
            raise BenchError(f"sync carried {first['files_in_pod']} of {files} files")
        kube = ["kubectl", "--kubeconfig", str(env.kubeconfig), "-n", h.ns]
        pod_floor = 'rm -rf "$HOME/floor" && mkdir -p "$HOME/floor"'
        tar_cmd = (
            f"tar c -C {h.repo} tree | {' '.join(kube)} exec -i kodama-bench -- "
            "sh -c 'tar x -C \"$HOME/floor\"'"
        )
        last = h.workspace / "tree" / f"d{(files - 1) // 100:03d}" / f"f{files - 1:05d}.txt"
        sync_s: list[float] = []
        tar_s: list[float] = []
        splits: list[dict[str, float]] = []
        for _ in range(rounds):
            h.kodama("sync", "stop", "bench")
            shutil.rmtree(h.workspace / "tree")
            steps = stamped_sync_start(h)
            sync_s.append(steps["exit"])
            splits.append(steps)
            if not last.exists() or _count(h.workspace / "tree") != files:
                raise BenchError("`sync start` returned before every file was in the pod")

            subprocess.run([*kube, "exec", "kodama-bench", "--", "sh", "-c", pod_floor], check=True)
            t0 = time.perf_counter()
            subprocess.run(["bash", "-o", "pipefail", "-c", tar_cmd], check=True, env=h.env)
            tar_s.append(time.perf_counter() - t0)
        home = _pod_home(kube)
        if home is not None and _count(home / "floor" / "tree") != files:
            raise BenchError("the tar floor did not carry every file")
    finally:
        try:
            h.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    load = (before, load1())
    size = f"{files:,} files, {files * FILE_BYTES / 1e6:.0f} MB"

    def edit_row(key: str, what: str) -> Row:
        s = first[key]
        return Row(
            name=f"sync.{key}",
            what=what,
            unit="s",
            kodama=[s["median_s"]],
            target=Target("max", 1.0, "median ≤ 1 s"),
            note=f"median of {edits} edits, min {s['min_s'] * 1000:.0f} ms, max {s['max_s'] * 1000:.0f} ms",
            load=load,
            count=edits,
        )

    return [
        Row(
            name="sync.initial",
            what=f"initial sync, {size} (`sync start`, returns once equal)",
            unit="s",
            kodama=sync_s,
            floor_what="`tar c` piped to `kubectl exec -i … tar x`",
            floor=tar_s,
            target=Target("ratio", 1.3, "≤ 1.3x tar"),
            note=split_note(splits)
            + "; first sync of the session (also installs the mutagen agent, then `sync "
            + "flush`): {:.1f} s".format(first["initial_sync_s"]),
            load=load,
        ),
        edit_row("local_to_pod", "one edit, local → pod"),
        edit_row("pod_to_local", "one edit, pod → local"),
    ]


# `sync start`'s progress lines, in order: what each one ends.
STEPS = (
    ("Starting file sync", "CLI start-up, session and pod look-up"),
    ("Copying", "probe exec (what the pod lacks)"),
    ("Seeded", "seed tar stream"),
    ("Comparing both sides", "mutagen daemon up + session create (connect through the shim)"),
    ("exit", "first cycle (both sides scanned, compared) + exit"),
)


def stamped_sync_start(h: sync_bench.ClusterHarness) -> dict[str, float]:
    """`sync start` with each progress line's time since the start (s), and "exit"."""
    exe = Path(sys.executable).parent / "kubectl-kodama"
    argv = [str(exe), "--kubeconfig", h.kubeconfig, "-n", h.ns, "sync", "start", "bench"]
    seen: dict[str, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=h.repo, env=h.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        for key, _ in STEPS:
            if key in line and key not in seen:
                seen[key] = time.perf_counter() - t0
    proc.wait()
    seen["exit"] = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(f"sync start failed: {''.join(lines)[-500:]}")
    return seen


def split_note(splits: list[dict[str, float]]) -> str:
    """Median time of each phase of `sync start` (between consecutive progress lines)."""
    parts, before = [], 0.0
    for key, what in STEPS:
        at = [s[key] for s in splits if key in s]
        if not at:
            continue
        mid = statistics.median(at)
        parts.append(f"{what} {(mid - before) * 1000:.0f} ms")
        before = mid
    return "`sync start` alone (it returns once both trees are equal); median split: " + ", ".join(
        parts
    )


def _pod_home(kube: list[str]) -> Path | None:
    proc = subprocess.run(
        [*kube, "exec", "kodama-bench", "--", "sh", "-c", 'printf %s "$HOME"'],
        capture_output=True,
        text=True,
        check=False,
    )
    path = Path(proc.stdout.strip())
    return path if proc.returncode == 0 and path.is_dir() else None
