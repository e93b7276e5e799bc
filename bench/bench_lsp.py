"""The language server: request latency (p95) while a start, a sync and a refresh run; memory.

Two servers (`python -m kodama_lsp`, driven over stdio like an editor, see lsp_client.py):

- *under load*, on the namespace of 50 Running sessions with refreshInterval 2 s, so the
  background refresh (list + one exec per Running session for its agent state) is nearly always
  in flight. Each round starts, through the server, a fresh session
  (`kodama.session.start`, which waits for Ready, ships the repo and launches the agent) and a
  file sync of a 2,000-file tree into one of the Running sessions (`kodama.sync.start`;
  the pod's copy is emptied between rounds so each is a full initial sync), and while either
  runs sends, one after another, the requests an editor sends: `kodama.session.list` (API),
  `kodama.session.suggestName` (local), `textDocument/codeAction` (the cached sessions),
  `textDocument/hover` in `.kodama.yaml`. Each is timed; rows give the p95 per request and of
  all of them (issue 18: any request ≤ 100 ms p95). An idle round (refresh only) comes first.
- *memory*, on the namespace of 50 Pending sessions (cheap lists): VmRSS of the server after
  start-up, after 100 and after 300 `kodama.session.list` commands (≤ 90 MB after 300).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sync_bench
from bench_list import PENDING_NS, RUNNING_NS, populate
from bench_sync import make_tree
from harness import Env, Row, Target, load1, median, p95
from lsp_client import Editor, timed

MS100 = Target("max", 0.100, "p95 ≤ 100 ms")
MB90 = Target("max", 90, "≤ 90 MB")
SYNCED = "s001"  # the Running session that receives the sync during the load rounds
TREE = "lsptree"


async def load_rounds(
    env: Env,
    rounds: int,
    files: int,
    spy: Path | None = None,
    server_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The load rounds; with `spy`, py-spy records the server meanwhile (bench/profile.py);
    `server_env` is added to the server's environment (lsp_ab.py: PYTHONPATH of another code)."""
    mutagen = sync_bench.find_mutagen()
    ed = Editor(env, RUNNING_NS, refreshInterval=2)
    await ed.start({"KODAMA_MUTAGEN": mutagen, **(server_env or {})})
    recorder = None
    if spy is not None:
        recorder = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--idle", "--threads",
             "-r", "100", "-f", "raw", "-o", str(spy), "--pid", str(ed.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    reqs = ed.requests()
    idle: dict[str, list[float]] = defaultdict(list)
    busy: dict[str, list[float]] = defaultdict(list)
    notes: list[str] = []
    try:
        await asyncio.sleep(3)
        for fn in reqs.values():  # warm-up: first API client, first config read
            await fn()
        for _ in range(5):
            for name, fn in reqs.items():
                idle[name].append(await timed(fn))
                await asyncio.sleep(0.1)
        make_tree(env.repo / TREE, files)
        for i in range(rounds):
            await _empty_pod_tree(env)
            t0 = time.monotonic()
            start = asyncio.ensure_future(
                ed.command("kodama.session.start", {"name": f"lspload{i}", "noSync": True})
            )
            sync = asyncio.ensure_future(ed.command("kodama.sync.start", {"name": SYNCED}))
            await asyncio.sleep(0.2)
            while not (start.done() and sync.done()):
                for name, fn in reqs.items():
                    busy[name].append(await timed(fn))
                    await asyncio.sleep(0.1)
            await start
            await sync
            notes.append(f"round {i + 1}: start + sync {time.monotonic() - t0:.1f} s")
            await ed.command("kodama.sync.stop", {"name": SYNCED})
            await ed.command("kodama.session.delete", {"name": f"lspload{i}", "confirm": True})
    finally:
        shutil.rmtree(env.repo / TREE, ignore_errors=True)
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            recorder.wait(timeout=60)
        await ed.stop()
    return {"idle": idle, "busy": busy, "notes": notes}


async def _empty_pod_tree(env: Env) -> None:
    proc = await asyncio.create_subprocess_exec(
        *env.kubectl(RUNNING_NS, "exec", f"kodama-{SYNCED}", "--", "sh", "-c",
                     f'rm -rf "$KODAMA_WORKSPACE/{TREE}"'),
        env=env.environ(),
    )  # fmt: skip
    await proc.wait()


async def _memory(env: Env) -> dict[str, float]:
    ed = Editor(env, PENDING_NS)
    await ed.start()
    out: dict[str, float] = {}
    try:
        await asyncio.sleep(1.0)
        out["rss_start"] = ed.rss_mb()
        for _ in range(100):
            await ed.command("kodama.session.list", {})
        out["rss_100"] = ed.rss_mb()
        for _ in range(200):  # a plateau or a leak?
            await ed.command("kodama.session.list", {})
        out["rss_300"] = ed.rss_mb()
    finally:
        await ed.stop()
    return out


def bench(env: Env, runs: int, prepared: set[str], count: int, quick: bool) -> list[Row]:
    for ns, pending in ((PENDING_NS, True), (RUNNING_NS, False)):
        if ns not in prepared:
            populate(env, ns, count, pending=pending)
            prepared.add(ns)
    before = load1()
    r = asyncio.run(load_rounds(env, rounds=2 if quick else 3, files=500 if quick else 2000))
    load = (before, load1())
    what = f"LSP {{}} while a start, a sync and a refresh run ({count} Running sessions)"
    rows: list[Row] = []
    every: list[float] = []
    for name, samples in r["busy"].items():
        every += samples
        rows.append(
            Row(
                name=f"lsp.busy.{name}",
                what=what.format(f"`{name}`"),
                unit="s",
                kodama=samples,
                target=MS100,
                stat="p95",
                load=load,
                note=f"idle (refresh only): p95 {(p95(r['idle'][name]) or 0) * 1000:.0f} ms "
                f"of {len(r['idle'][name])}; median while busy "
                f"{(median(samples) or 0) * 1000:.0f} ms",
            )
        )
    rows.append(
        Row(
            name="lsp.busy.all",
            what=what.format("any request"),
            unit="s",
            kodama=every,
            target=MS100,
            stat="p95",
            load=load,
            note="; ".join(r["notes"]),
        )
    )
    before = load1()
    m = asyncio.run(_memory(env))
    load = (before, load1())
    rows += [
        Row(
            name=f"lsp.{key}",
            what=f"LSP resident memory {when}",
            unit="MB",
            kodama=[m[key]],
            target=MB90,
            load=load,
        )
        for key, when in (
            ("rss_start", "after start-up"),
            ("rss_100", "after 100 commands"),
            ("rss_300", "after 300 commands"),
        )
    ]
    return rows
