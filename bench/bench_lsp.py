"""The language server: list latency, latency while a start runs, resident memory.

Drives the real `python -m kodama_lsp` over stdio with pygls' own LanguageClient, the way an
editor does: initialize (kubeconfig + namespace as initializationOptions), initialized, then
`workspace/executeCommand`. The namespace is the `list` benchmark's one with 50 Pending
sessions, so the list answer is comparable with the CLI's minus Python start-up.

While a start runs (`kodama.session.start` of a fresh session, which waits for Ready, ships the
repo and launches the agent in a worker thread), the benchmark keeps sending a second request and
times each answer: `kodama.session.list` (needs the API) and `kodama.session.suggestName`
(local only: measures how responsive the server itself stays).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bench_list import PENDING_NS
from harness import Env, Row, Target, load1, vm_rss_mb
from lsprotocol import types
from pygls.lsp.client import LanguageClient


def _client() -> LanguageClient:
    client = LanguageClient("kodama-bench", "1")

    for method in (
        types.WINDOW_SHOW_MESSAGE_REQUEST,  # answered "no choice"
        types.WINDOW_WORK_DONE_PROGRESS_CREATE,
        types.PROGRESS,
        types.WINDOW_LOG_MESSAGE,
        types.WINDOW_SHOW_MESSAGE,
        "kodama/sessionsChanged",
        "kodama/agentState",
        "kodama/syncStatus",
    ):
        client.feature(method)(lambda _params: None)
    return client


async def _command(client: LanguageClient, command: str, arg: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[arg])
    )
    return time.perf_counter() - t0


async def _bench(env: Env, runs: int, starts: int) -> dict[str, Any]:
    client = _client()
    await client.start_io(sys.executable, "-m", "kodama_lsp", env=env.environ(), cwd=str(env.repo))
    server = client._server  # the subprocess pygls started
    assert server is not None
    pid = server.pid
    out: dict[str, Any] = {}
    try:
        await client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=env.repo.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=env.repo.as_uri(), name="repo")],
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True)
                ),
                initialization_options={
                    "kubeconfig": str(env.kubeconfig),
                    "namespace": PENDING_NS,
                },
            )
        )
        client.initialized(types.InitializedParams())
        await asyncio.sleep(1.0)
        out["rss_start"] = vm_rss_mb(pid)

        lst: tuple[str, dict[str, Any]] = ("kodama.session.list", {})
        name: tuple[str, dict[str, Any]] = ("kodama.session.suggestName", {})
        await _command(client, *lst)  # warm-up: first API client, first config read
        out["list"] = [await _command(client, *lst) for _ in range(max(runs * 2, 10))]

        busy_list: list[float] = []
        busy_name: list[float] = []
        for i in range(starts):
            start = asyncio.ensure_future(
                client.workspace_execute_command_async(
                    types.ExecuteCommandParams(
                        command="kodama.session.start",
                        arguments=[{"name": f"lsp{i}", "noSync": True}],
                    )
                )
            )
            await asyncio.sleep(0.3)
            while not start.done():
                busy_list.append(await _command(client, *lst))
                if start.done():
                    break
                busy_name.append(await _command(client, *name))
                await asyncio.sleep(0.25)
            await start
            await _command(client, "kodama.session.delete", {"name": f"lsp{i}", "confirm": True})
        out["busy_list"] = busy_list
        out["busy_name"] = busy_name

        for _ in range(100):
            await _command(client, *lst)
        out["rss_100"] = vm_rss_mb(pid)
        for _ in range(200):  # a plateau or a leak?
            await _command(client, *lst)
        out["rss_300"] = vm_rss_mb(pid)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await asyncio.sleep(0.2)
        if server.returncode is None:
            server.terminate()
        await client.stop()  # type: ignore[no-untyped-call]
    return out


def bench(env: Env, runs: int, prepared: set[str], count: int) -> list[Row]:
    if PENDING_NS not in prepared:
        from bench_list import populate

        populate(env, PENDING_NS, count, pending=True)
        prepared.add(PENDING_NS)
    before = load1()
    r = asyncio.run(_bench(env, runs, starts=max(2, runs // 2)))
    load = (before, load1())
    ms100 = Target("max", 0.100, "≤ 100 ms")
    return [
        Row(
            name="lsp.list",
            what=f"LSP `kodama.session.list`, {count} sessions, idle",
            unit="s",
            kodama=r["list"],
            load=load,
        ),
        Row(
            name="lsp.list_during_start",
            what="LSP `kodama.session.list` while a start runs",
            unit="s",
            kodama=r["busy_list"],
            target=ms100,
            load=load,
        ),
        Row(
            name="lsp.local_during_start",
            what="LSP `kodama.session.suggestName` while a start runs",
            unit="s",
            kodama=r["busy_name"],
            target=ms100,
            load=load,
        ),
        Row(
            name="lsp.rss_start",
            what="LSP resident memory after start-up",
            unit="MB",
            kodama=[r["rss_start"]],
            target=Target("max", 100, "≤ 100 MB"),
            load=load,
        ),
        Row(
            name="lsp.rss_100",
            what="LSP resident memory after 100 more lists",
            unit="MB",
            kodama=[r["rss_100"]],
            target=Target("max", 100, "≤ 100 MB"),
            load=load,
        ),
        Row(
            name="lsp.rss_300",
            what="LSP resident memory after 300 more lists",
            unit="MB",
            kodama=[r["rss_300"]],
            target=Target("max", 100, "≤ 100 MB"),
            load=load,
        ),
    ]
