"""The language server under load, before and after: bench_lsp's load rounds run alternately
with the server of a base revision and with this checkout's, in one run, so that the noise of a
loaded machine falls on both alike.

    python bench/lsp_ab.py --work DIR [--base REV] [--reps 3] [--rounds 2] [--spy]

DIR is the work folder of an earlier `run.py --only lsp --keep` (kodama-bench-*): its
KODAMA_HOME holds the records of the 50 Running sessions, whose local path is its repository,
which code actions and suggestName depend on. The base revision's `kodama` and `lsp` are
unpacked (git archive) and put first on the server's PYTHONPATH. With --spy, py-spy records
each side's first repetition (raw collapsed stacks beside the printed summary).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import bench_lsp
from harness import DEFAULT_KUBECONFIG, ROOT, Env, load1, median, p95


def unpack(rev: str, dest: Path) -> Path:
    """`kodama` and `lsp` of `rev`, importable as kodama and kodama_lsp from the returned path."""
    tree = dest / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "kodama", "lsp"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    path = dest / "path"
    path.mkdir()
    (path / "kodama").symlink_to(tree / "kodama")
    (path / "kodama_lsp").symlink_to(tree / "lsp")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--base", default="main")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--spy", action="store_true")
    p.add_argument("--kubeconfig", type=Path, default=DEFAULT_KUBECONFIG)
    args = p.parse_args()
    env = Env(kubeconfig=args.kubeconfig, work=args.work)
    busy: dict[str, dict[str, list[float]]] = {"base": defaultdict(list), "this": defaultdict(list)}
    with tempfile.TemporaryDirectory(prefix="kodama-lsp-ab-") as tmp:
        sides = {"base": {"PYTHONPATH": str(unpack(args.base, Path(tmp)))}, "this": {}}
        for rep in range(args.reps):
            for side, server_env in sides.items():
                spy = Path(f"lsp-ab-{side}.pyspy.txt") if args.spy and rep == 0 else None
                before = load1()
                r = asyncio.run(
                    bench_lsp.load_rounds(env, args.rounds, args.files, spy, server_env)
                )
                cells = []
                for name, samples in r["busy"].items():
                    busy[side][name] += samples
                    cells.append(f"{name} p95 {(p95(samples) or 0) * 1000:.0f} ms")
                print(f"rep {rep + 1} {side} (load {before:.1f}→{load1():.1f}): {'; '.join(cells)}")
    print("\n| request | base p95 | this p95 | base median | this median | n |")
    print("|---|---|---|---|---|---|")
    for name in [*busy["base"], "all"]:
        b, t = (
            [x for s in busy[side].values() for x in s] if name == "all" else busy[side][name]
            for side in ("base", "this")
        )
        ms = [(f(v) or 0) * 1000 for v in (b, t) for f in (p95, median)]
        print(f"| {name} | {ms[0]:.0f} ms | {ms[2]:.0f} ms | {ms[1]:.0f} ms | {ms[3]:.0f} ms | "
              f"{len(b)}/{len(t)} |")  # fmt: skip


if __name__ == "__main__":
    main()
