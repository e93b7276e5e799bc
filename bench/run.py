"""make bench: Kodama next to its floor on the test control plane; a table of medians.

    python bench/run.py [--only list,lsp,...] [--runs N] [--quick] [--profile]
    BENCH_QUICK=1 make bench          # the same as --quick

Each benchmark warms up once, then runs N rounds, Kodama and its floor interleaved. Results
(with the machine: cores, load average, Python, kubectl and kube-apiserver versions) go to
bench/results/latest.json and latest.md. With --only, rows of the other benchmarks are kept from
the previous latest.json, each with the machine facts of the run that produced it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import (
    BENCH,
    DEFAULT_KUBECONFIG,
    ROOT,
    BenchError,
    Env,
    Row,
    bench_env,
    machine,
    machine_line,
    table,
)

# list-all runs before list: `list -A` would otherwise also read the agent states of list's
# namespace of Running sessions (kept between runs with --keep).
NAMES = ("cli", "hostile", "list-all", "list", "lifecycle", "lsp", "editor", "sync", "realnode")
RESULTS = BENCH / "results"


def ensure_requirements() -> None:
    """pyinstrument (for --profile) goes into the venv running the benchmarks."""
    if (
        importlib.util.find_spec("pyinstrument") is None
        or not (Path(sys.executable).parent / "py-spy").exists()
    ):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")],
            check=True,
        )


def cached_bytecode() -> None:
    """Measure Kodama as installed, with compiled bytecode.

    An install (pip, pipx) compiles .pyc files; an editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 (as on the dev machines) would recompile every Kodama module on
    every start. A private cache folder keeps the checkout untouched.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "kodama-bench-pycache")


def run_one(name: str, env: Env | None, args: argparse.Namespace, prepared: set[str]) -> list[Row]:
    runs, count = args.runs, args.sessions
    if name == "cli":
        import bench_cli

        return bench_cli.bench(runs)
    if name == "hostile":
        import bench_hostile

        return bench_hostile.bench(runs)
    assert env is not None
    if name == "list-all":
        import bench_list_all

        return bench_list_all.bench(env, runs, args.quick, prepared)
    if name == "list":
        import bench_list

        return bench_list.bench(env, runs, count, prepared)
    if name == "lifecycle":
        import bench_lifecycle

        return bench_lifecycle.bench(env, runs)
    if name == "lsp":
        import bench_lsp

        return bench_lsp.bench(env, runs, prepared, count, args.quick)
    if name == "editor":
        import bench_editor

        return bench_editor.bench(env, runs, prepared, count, args.quick)
    if name == "realnode":
        import bench_realnode

        return bench_realnode.bench(env, runs)
    if name == "sync":
        import bench_sync

        return bench_sync.bench(env, runs, quick=args.quick)
    raise SystemExit(f"unknown benchmark {name!r} (one of {', '.join(NAMES)})")


def profile(env: Env, rows: list[Row]) -> None:
    """Run the Kodama side of each missed row once under pyinstrument (text report)."""
    out = RESULTS / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        if r.met is not False or not r.profile_argv:
            continue
        dest = out / f"{r.name}.txt"
        argv = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "text",
            "-o",
            str(dest),
            "-m",
            "kodama.cli.main",
            *r.profile_argv,
        ]
        subprocess.run(argv, env=env.environ(), cwd=env.repo, capture_output=True, check=False)
        print(f"profile of {r.name}: {dest.relative_to(ROOT)}", file=sys.stderr)


def write(rows: list[Row], facts: dict[str, Any], merge: bool) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    jpath = RESULTS / "latest.json"
    new = [{**r.to_json(), "machine": facts} for r in rows]
    if merge and jpath.exists():
        old = json.loads(jpath.read_text()).get("rows", [])
        names = {r.name for r in rows}
        new = [o for o in old if o["name"] not in names] + new
        order = {n: i for i, n in enumerate(NAMES)}
        new.sort(key=lambda o: order.get(o.get("group", ""), len(NAMES)))
    jpath.write_text(json.dumps({"rows": new}, indent=2, default=str) + "\n")
    shown = [_row_from_json(o) for o in new]
    machines: dict[str, dict[str, Any]] = {}
    for o in new:
        machines.setdefault(o["machine"]["date"], o["machine"])
    md = ["# Kodama benchmarks: latest run", ""]
    md.append("Medians after a warm-up; Kodama and its floor interleaved in the same run.")
    md.append("")
    md.append(table(shown))
    md.append("")
    notes = [f"- {r.what}: {r.note}" for r in shown if r.note]
    if notes:
        md += ["Notes:", "", *notes, ""]
    md.append("Machine:" if len(machines) == 1 else "Machines (rows come from several runs):")
    md.append("")
    md += [f"- {date}: {machine_line(m)}" for date, m in sorted(machines.items())]
    text = "\n".join(md) + "\n"
    (RESULTS / "latest.md").write_text(text)
    return text


def _row_from_json(o: dict[str, Any]) -> Row:
    from harness import Target

    t = o.get("target")
    return Row(
        name=o["name"],
        what=o["what"],
        unit=o["unit"],
        kodama=o["kodama"],
        floor_what=o.get("floor_what", ""),
        floor=o.get("floor", []),
        target=Target(**t) if t else None,
        note=o.get("note", ""),
        load=(float(o["load"][0]), float(o["load"][1])) if o.get("load") else (0.0, 0.0),
        count=o.get("count"),
        group=o.get("group", ""),
        stat=o.get("stat", "median"),
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", action="append", default=[], help=f"comma list of {', '.join(NAMES)}")
    p.add_argument("--runs", type=int, default=5, help="measured rounds per benchmark (default 5)")
    p.add_argument("--quick", action="store_true", help="2 rounds, 10 sessions, a smaller tree")
    p.add_argument("--sessions", type=int, default=50, help="sessions for list (default 50)")
    p.add_argument("--kubeconfig", type=Path, default=DEFAULT_KUBECONFIG)
    p.add_argument("--profile", action="store_true", help="pyinstrument the missed CLI rows")
    p.add_argument("--keep", action="store_true", help="keep the namespaces and temp files")
    p.add_argument(
        "--private-plane",
        action="store_true",
        help="run on a private test control plane (own state folder and ports, taken down "
        "after), safe from other people's restarts of the shared one",
    )
    args = p.parse_args()
    if os.environ.get("BENCH_QUICK", "") not in ("", "0"):
        args.quick = True
    if os.environ.get("BENCH_ONLY"):
        args.only.append(os.environ["BENCH_ONLY"])
    if args.quick:
        args.runs = min(args.runs, 2)
        args.sessions = min(args.sessions, 10)
    only = [n for item in args.only for n in item.split(",") if n] or list(NAMES)
    for n in only:
        if n not in NAMES:
            p.error(f"unknown benchmark {n!r} (one of {', '.join(NAMES)})")
    ensure_requirements()
    cached_bytecode()
    needs_cluster = any(n not in ("cli", "hostile") for n in only)
    with private_plane(needs_cluster and args.private_plane) as kubeconfig:
        if kubeconfig is not None:
            args.kubeconfig = kubeconfig
        return measure(p, args, only, needs_cluster)


@contextmanager
def private_plane(wanted: bool) -> Iterator[Path | None]:
    if not wanted:
        yield None
        return
    env = dict(
        os.environ,
        KODAMA_TESTENV_STATE=str(Path(tempfile.gettempdir()) / "kodama-bench-plane"),
        KODAMA_TESTENV_PORT_BASE=os.environ.get("KODAMA_BENCH_PORT_BASE", "18400"),
        PYTHON=sys.executable,
    )
    subprocess.run([str(ROOT / "tests/testenv/up")], env=env, check=True)
    try:
        yield Path(env["KODAMA_TESTENV_STATE"]) / "kubeconfig"
    finally:
        subprocess.run([str(ROOT / "tests/testenv/down")], env=env, check=False)


def measure(
    p: argparse.ArgumentParser, args: argparse.Namespace, only: list[str], needs_cluster: bool
) -> int:
    if needs_cluster and not args.kubeconfig.exists():
        p.error(
            f"{args.kubeconfig} does not exist: bring the test control plane up "
            "(tests/testenv/up, or `make bench`)"
        )
    facts = machine(args.kubeconfig if needs_cluster else None)
    facts["plane"] = "private" if args.private_plane else "shared"
    print(f"machine: {machine_line(facts)}", file=sys.stderr)
    rows: list[Row] = []
    prepared: set[str] = set()
    failures: list[str] = []
    with bench_env(args.kubeconfig, keep=args.keep) as env:
        for name in only:
            t0 = time.monotonic()
            print(f"== {name}", file=sys.stderr)
            try:
                got = run_one(name, env, args, prepared)
            except (BenchError, subprocess.TimeoutExpired) as exc:
                failures.append(f"{name}: {exc}")
                print(f"{name} FAILED: {exc}", file=sys.stderr)
                continue
            for r in got:
                r.group = name
            rows += got
            write(rows, facts, merge=True)  # a run cut short keeps what it measured
            print(table(got), file=sys.stderr)
            print(f"({time.monotonic() - t0:.0f} s)", file=sys.stderr)
            if args.profile:
                profile(env, got)
    facts["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(write(rows, facts, merge=bool(args.only)))
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
