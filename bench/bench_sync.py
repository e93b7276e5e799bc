"""File sync: initial sync of a 5,000-file / 50 MB tree next to `tar c | kubectl exec -i … tar x`,
and single-edit propagation latency in each direction.

Reuses bench/sync_bench.py (the sync engineer's): its ClusterHarness starts the session and
knows where the pod's workspace lives on this host (on the test control plane exec runs on the
host), and its `run()` does the first sync plus the edit round trips. Its own tree is 5,000 files
of ~1 KB; here `make_tree` is swapped for one of ~10 KB files (50 MB), as the issue asks.

Initial sync, Kodama side: `kubectl kodama sync start` until the last file is in the pod and
`sync flush` returns. The first one (inside `run()`) also installs the mutagen agent in the pod
and is reported in the note; the measured rounds stop the sync, empty the pod's copy, and start a
fresh mutagen session (agent already installed, as after a resume).
Floor: `tar c tree | kubectl exec -i POD -- tar x` into a folder of the pod's HOME (outside the
synced workspace), emptied before each round.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
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
        splits: list[tuple[float, float, float]] = []
        for _ in range(rounds):
            h.kodama("sync", "stop", "bench")
            shutil.rmtree(h.workspace / "tree")
            t0 = time.perf_counter()
            h.start_sync()
            t1 = time.perf_counter()
            sync_bench.wait(lambda: last.exists(), timeout=1800)
            t2 = time.perf_counter()
            h.flush()
            t3 = time.perf_counter()
            sync_s.append(t3 - t0)
            splits.append((t1 - t0, t2 - t1, t3 - t2))
            if _count(h.workspace / "tree") != files:
                raise BenchError("the re-sync did not carry every file")

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
            what=f"initial sync, {size} (`sync start` → flushed)",
            unit="s",
            kodama=sync_s,
            floor_what="`tar c` piped to `kubectl exec -i … tar x`",
            floor=tar_s,
            target=Target("ratio", 1.3, "≤ 1.3x tar"),
            note=(
                "median split: `sync start` returns {:.0f} ms, last file in the pod {:.0f} ms "
                "later, `sync flush` {:.0f} ms; first sync of the session (also installs the "
                "mutagen agent): {:.1f} s".format(
                    *(statistics.median(x[i] for x in splits) * 1000 for i in range(3)),
                    first["initial_sync_s"],
                )
            ),
            load=load,
        ),
        edit_row("local_to_pod", "one edit, local → pod"),
        edit_row("pod_to_local", "one edit, pod → local"),
    ]


def _pod_home(kube: list[str]) -> Path | None:
    proc = subprocess.run(
        [*kube, "exec", "kodama-bench", "--", "sh", "-c", 'printf %s "$HOME"'],
        capture_output=True,
        text=True,
        check=False,
    )
    path = Path(proc.stdout.strip())
    return path if proc.returncode == 0 and path.is_dir() else None
