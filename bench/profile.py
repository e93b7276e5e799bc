"""Where the time and memory go, for the rows `make bench` reports missed.

    python bench/profile.py [--only imports,list,start,api,memory,lsp] [--out DIR]

Needs the namespaces `make bench` populated (run it with --keep first, or `run.py --only list
--keep`). Writes raw profiles to bench/results/profiles/ and prints a markdown summary:
- imports: `python -X importtime` of `list` on an empty namespace, the costliest top-level
  imports (cumulative);
- list: `list` with 50 Running sessions under py-spy (every thread, idle time included, so the
  wall clock is accounted for) and under cProfile (call counts, main thread);
- start: `start` of a fresh session under py-spy;
- api: the HTTP requests each CLI verb sends (urllib3's request log, bench/traced.py) and its
  execs (the API server's apiserver_request_total, CONNECT pods/exec);
- memory: the language server's RSS after each import layer, and what tracemalloc sees grow over
  100 `kodama.session.list` commands;
- lsp: the language server under load (a start, a sync and a refresh), under py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import pstats
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench_editor import counters, is_exec
from bench_list import EMPTY_NS, PENDING_NS, RUNNING_NS
from harness import BENCH, DEFAULT_KUBECONFIG, Env, bench_env, run
from lsp_client import Editor
from run import cached_bytecode

PARTS = ("imports", "list", "start", "api", "memory", "lsp")
LIFE_NS = "kodama-bench-life"
GROWTH_LISTS = 50


def pyspy() -> str:
    return str(Path(sys.executable).parent / "py-spy")


def top_inclusive(raw: Path, n: int = 25, thread: str | None = None) -> tuple[int, list[str]]:
    """py-spy's collapsed stacks -> (samples, the n frames present in most samples)."""
    total = 0
    inclusive: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if thread is not None and thread not in frames[0]:
            continue
        c = int(count)
        total += c
        for f in set(frames[1:]):
            inclusive[re.sub(r" \(/[^)]*/site-packages/", " (", f)] += c
    rows = [f"{100 * c / max(total, 1):5.1f}%  {f}" for f, c in inclusive.most_common(n)]
    return total, rows


def threads(raw: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        out[stack.split(";")[0]] += int(count)
    return out


def spy(env: Env, argv: list[str], dest: Path) -> Path:
    raw = dest.with_suffix(".txt")
    run(
        [pyspy(), "record", "--idle", "--threads", "-r", "200", "-f", "raw", "-o", str(raw),
         "--", sys.executable, "-m", "kodama.cli.main", *argv],
        env=env.environ(), cwd=env.repo, timeout=600,
    )  # fmt: skip
    return raw


def imports(env: Env, out: Path) -> list[str]:
    proc = run(
        [sys.executable, "-X", "importtime", "-m", "kodama.cli.main",
         *env.kodama(EMPTY_NS, "list")[1:]],
        env=env.environ(), cwd=env.repo,
    )  # fmt: skip
    text = proc.stderr.decode()
    (out / "importtime-list.txt").write_text(text)
    entries: list[tuple[int, int, str]] = []  # (cumulative us, depth, name)
    for line in text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            entries.append((int(m.group(2)), (len(m.group(3)) - 1) // 2, m.group(4)))
    total = sum(c for c, depth, _ in entries if depth == 0)
    lines = [f"all imports: {total / 1000:.0f} ms; those over 15 ms (depth = indent):"]
    big = sorted((e for e in entries if e[0] >= 15000 and e[1] <= 3), reverse=True)
    return lines + [f"{c / 1000:6.0f} ms  {'  ' * d}{name}" for c, d, name in big[:30]]


def list_profile(env: Env, out: Path) -> list[str]:
    argv = env.kodama(RUNNING_NS, "list")[1:]
    raw = spy(env, argv, out / "pyspy-list-running")
    total, rows = top_inclusive(raw, 30)
    per_thread = ", ".join(f"{t}: {c}" for t, c in threads(raw).most_common(10))
    prof = out / "cprofile-list-running.prof"
    run(
        [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "kodama.cli.main", *argv],
        env=env.environ(), cwd=env.repo,
    )  # fmt: skip
    buf = io.StringIO()
    pstats.Stats(str(prof), stream=buf).sort_stats("cumulative").print_stats(30)
    (out / "cprofile-list-running.txt").write_text(buf.getvalue())
    return [
        f"py-spy, every thread, idle included: {total} samples at 200 Hz; per thread: {per_thread}",
        "frames in the most samples (inclusive):",
        *rows,
        "",
        "cProfile (main thread), by cumulative time:",
        *_pstats_rows(buf.getvalue(), 30),
    ]


def _pstats_rows(text: str, n: int) -> list[str]:
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), 0)
    return [ln.rstrip() for ln in lines[start : start + n + 1]]


def start_profile(env: Env, out: Path) -> list[str]:
    name = f"prof{int(time.time()) % 100000}"
    raw = spy(env, env.kodama(LIFE_NS, "start", name)[1:], out / "pyspy-start")
    env.kk(LIFE_NS, "delete", name, "--yes")
    total, rows = top_inclusive(raw, 30)
    per_thread = ", ".join(f"{t}: {c}" for t, c in threads(raw).most_common(6))
    return [f"{total} samples at 200 Hz; per thread: {per_thread}", *rows]


def api_calls(env: Env, out: Path) -> list[str]:
    name = f"api{int(time.time()) % 100000}"
    verbs = [
        ("list, 0 sessions", EMPTY_NS, ["list"]),
        ("list, 50 Pending", PENDING_NS, ["list"]),
        ("list, 50 Running", RUNNING_NS, ["list"]),
        ("start", LIFE_NS, ["start", name]),
        ("get", LIFE_NS, ["get", name]),
        ("stop", LIFE_NS, ["stop", name]),
        ("resume", LIFE_NS, ["resume", name]),
        ("delete", LIFE_NS, ["delete", name, "--yes"]),
    ]
    lines = []
    for what, ns, args in verbs:
        d = out / f"api-{args[0]}-{ns}"
        log = d / "requests.log"
        log.unlink(missing_ok=True)
        c0 = counters(env)
        run(
            [sys.executable, str(BENCH / "traced.py"), str(d), "kodama.cli.main",
             *env.kodama(ns, *args)[1:]],
            env=env.environ(), cwd=env.repo, timeout=600,
        )  # fmt: skip
        c1 = counters(env)
        execs = sum(c1[k] - c0[k] for k in c1 if is_exec(k))
        seen: Counter[str] = Counter()
        for line in log.read_text().splitlines() if log.exists() else []:
            m = re.search(r'"(\w+) (/[^ ?"]*)', line)
            if m:
                path = re.sub(r"/namespaces/[^/]+", "/namespaces/NS", m.group(2))
                path = re.sub(r"(pods|persistentvolumeclaims|secrets)/[^/]+", r"\1/NAME", path)
                seen[f"{m.group(1)} {path}"] += 1
        parts = ", ".join(f"{k} x{v}" for k, v in seen.most_common())
        lines.append(f"- `{what}`: {sum(seen.values())} requests + {execs} execs: {parts}")
    return lines


RSS_LAYERS = [
    ("python", "pass"),
    ("+ lsprotocol, pygls", "import lsprotocol.types, pygls.lsp.server"),
    ("+ pydantic", "import pydantic"),
    ("+ kodama.models, kodama.config", "import kodama.models, kodama.config"),
    ("+ kubernetes client", "import kubernetes.client, kubernetes.config"),
    ("+ kubernetes.stream (exec)", "import kubernetes.stream"),
    ("+ the server (lsp.server)", "import kodama_lsp.server"),
]


def memory(env: Env, out: Path) -> list[str]:
    code = ["import sys\ndef rss():\n for l in open('/proc/self/status'):\n"
            "  if l.startswith('VmRSS'): return int(l.split()[1]) / 1024"]  # fmt: skip
    for label, stmt in RSS_LAYERS:
        code.append(f"{stmt}\nprint({label!r}, round(rss(), 1))")
    proc = run([sys.executable, "-c", "\n".join(code)], env=env.environ())
    lines = ["RSS after each import layer (one process, cumulative):"]
    prev = 0.0
    for line in proc.stdout.decode().splitlines():
        label, _, mb = line.rpartition(" ")
        lines.append(f"- {label.strip(chr(39))}: {float(mb):.1f} MB (+{float(mb) - prev:.1f})")
        prev = float(mb)
    lines += [
        "",
        f"tracemalloc growth over {GROWTH_LISTS} `kodama.session.list` (50 Pending), top 15:",
    ]
    lines += asyncio.run(_lsp_growth(env, out))
    return lines


async def _lsp_growth(env: Env, out: Path) -> list[str]:
    d = out / "lsp-tracemalloc"
    for old in d.glob("snapshot-*.pickle"):
        old.unlink()
    ed = Editor(env, PENDING_NS)
    traced = [str(BENCH / "traced.py"), str(d), "--tracemalloc", "kodama_lsp"]
    await ed.start(argv=traced)
    try:
        for _ in range(5):
            await ed.command("kodama.session.list", {})
        rss0 = ed.rss_mb()
        ed.signal(signal.SIGUSR1)
        await asyncio.sleep(3)
        for _ in range(GROWTH_LISTS):
            await ed.command("kodama.session.list", {})
        rss1 = ed.rss_mb()
        ed.signal(signal.SIGUSR1)
        await asyncio.sleep(3)
    finally:
        await ed.stop()
    s1 = tracemalloc.Snapshot.load(str(d / "snapshot-1.pickle"))
    s2 = tracemalloc.Snapshot.load(str(d / "snapshot-2.pickle"))
    traced_mb = sum(s.size for s in s2.statistics("filename")) / 1e6
    lines = [f"RSS {rss0:.1f} → {rss1:.1f} MB (tracemalloc's own bookkeeping inflates RSS); "
             f"traced since the first snapshot: {traced_mb:.1f} MB still allocated"]  # fmt: skip
    for stat in s2.compare_to(s1, "lineno")[:15]:
        frame = stat.traceback[0]
        where = re.sub(r".*/site-packages/", "", frame.filename)
        lines.append(
            f"- {stat.size_diff / 1024:+8.0f} KiB ({stat.count_diff:+d} blocks) {where}:{frame.lineno}"
        )
    return lines


def lsp_profile(env: Env, out: Path) -> list[str]:
    import bench_lsp

    raw = out / "pyspy-lsp-under-load.txt"
    asyncio.run(bench_lsp.load_rounds(env, rounds=2, files=2000, spy=raw))
    total, rows = top_inclusive(raw, 30)
    per_thread = ", ".join(f"{t}: {c}" for t, c in threads(raw).most_common(8))
    _, main_rows = top_inclusive(raw, 20, thread="MainThread")
    return [
        f"{total} samples at 100 Hz, every thread, idle included; per thread: {per_thread}",
        *rows,
        "",
        "main thread (the event loop: what delays answers), frames in most samples:",
        *main_rows,
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS))
    p.add_argument("--kubeconfig", type=Path, default=DEFAULT_KUBECONFIG)
    p.add_argument("--out", type=Path, default=BENCH / "results" / "profiles")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cached_bytecode()
    parts = {
        "imports": imports,
        "list": list_profile,
        "start": start_profile,
        "api": api_calls,
        "memory": memory,
        "lsp": lsp_profile,
    }
    with bench_env(args.kubeconfig, keep=True) as env:
        env.k(None, "create", "namespace", LIFE_NS, check=False)
        for name in args.only.split(","):
            print(f"\n### {name}\n\n```")
            try:
                print("\n".join(parts[name](env, args.out)))
            except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
                print(f"failed: {exc}")
            print("```", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
