"""Hostile config files: how long refusing a 10-line YAML alias bomb takes, and whether the
language server keeps answering meanwhile. No cluster needed.

- in process: `parse_yaml_text` of the bomb (refused) next to an ordinary config of similar size;
- CLI: `kubectl-kodama config view` in a checkout whose `.kodama.yaml` is the bomb (exit 1) next
  to the same command on an ordinary file: the difference is what refusing costs;
- LSP: didOpen of the bomb until its publishDiagnostics arrives, and a `suggestName` request sent
  right after the didOpen (the server's event loop must answer it while the file is judged).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Row, Target, bin_path, interleaved, load1, timed, timed_run
from lsprotocol import types
from pygls.lsp.client import LanguageClient

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
ORDINARY = (
    "image: ghcr.io/kodama-dev/agent:latest\nresources: {cpu: '2', memory: 4Gi}\n"
    "storage: {workspace: 10Gi}\nbranchPrefix: kodama/\nenv: {A: '1', B: '2'}\n"
    "agent: {command: claude}\nsync: {exclude: [node_modules/, dist/]}\ntimeout: 300\n"
)


def _checkout(root: Path, text: str) -> Path:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".kodama.yaml").write_text(text)
    return root


def _inproc(text: str) -> float:
    from kodama.config import parse_yaml_text
    from kodama.errors import ConfigError

    def parse() -> None:
        with contextlib.suppress(ConfigError):
            parse_yaml_text(text, ".kodama.yaml")

    return timed(parse)


async def _lsp(root: Path, home: Path, rounds: int) -> dict[str, list[float]]:
    client = LanguageClient("kodama-bench", "1")
    published: asyncio.Queue[float] = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diags(params: types.PublishDiagnosticsParams) -> None:
        if params.diagnostics and "expands to more than" in params.diagnostics[0].message:
            published.put_nowait(time.perf_counter())

    for method in (types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE, "kodama/sessionsChanged"):
        client.feature(method)(lambda _params: None)
    env = {**os.environ, "KODAMA_HOME": str(home)}
    await client.start_io(sys.executable, "-m", "kodama_lsp", env=env, cwd=str(root))
    out: dict[str, list[float]] = {"diagnostics": [], "concurrent": []}
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                initialization_options={"namespace": "bench"},
            )
        )
        client.initialized(types.InitializedParams())
        uri = (root / ".kodama.yaml").as_uri()
        for i in range(rounds + 1):
            t0 = time.perf_counter()
            if i == 0:
                client.text_document_did_open(
                    types.DidOpenTextDocumentParams(
                        text_document=types.TextDocumentItem(
                            uri=uri, language_id="yaml", version=1, text=ALIAS_BOMB
                        )
                    )
                )
            else:
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 1),
                        content_changes=[
                            types.TextDocumentContentChangeWholeDocument(text=ALIAS_BOMB)
                        ],
                    )
                )
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="kodama.session.suggestName", arguments=[{"root": str(root)}]
                )
            )
            answered = time.perf_counter()
            done = await asyncio.wait_for(published.get(), 30)
            if i > 0:  # the first round warms the server up
                out["concurrent"].append(answered - t0)
                out["diagnostics"].append(done - t0)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return out


def bench(runs: int) -> list[Row]:
    kodama = bin_path("kubectl-kodama")
    with tempfile.TemporaryDirectory(prefix="kodama-bench-hostile-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        bomb = _checkout(base / "bomb", ALIAS_BOMB)
        plain = _checkout(base / "plain", ORDINARY)
        env = {**os.environ, "KODAMA_HOME": str(home)}
        before = load1()
        inproc = interleaved(
            [("bomb", lambda: _inproc(ALIAS_BOMB)), ("plain", lambda: _inproc(ORDINARY))],
            runs=max(runs * 5, 20),
            warmup=2,
        )
        cli = interleaved(
            [
                (
                    "bomb",
                    lambda: timed_run([kodama, "config", "view"], cwd=bomb, env=env, check=False),
                ),
                ("plain", lambda: timed_run([kodama, "config", "view"], cwd=plain, env=env)),
            ],
            runs=max(runs * 2, 10),
            warmup=2,
        )
        lsp = asyncio.run(_lsp(bomb, home, max(runs * 2, 10)))
        load = (before, load1())
    limit = Target("max", 0.100, "≤ 100 ms")
    return [
        Row(
            name="hostile.yaml",
            what="10-line alias bomb refused (in process)",
            unit="s",
            kodama=inproc["bomb"],
            floor_what="an ordinary .kodama.yaml parsed",
            floor=inproc["plain"],
            target=limit,
            load=load,
        ),
        Row(
            name="hostile.yaml.cli",
            what="`kubectl-kodama config view`, alias bomb (exit 1)",
            unit="s",
            kodama=cli["bomb"],
            floor_what="same, ordinary .kodama.yaml",
            floor=cli["plain"],
            note="the difference from the floor is what refusing costs",
            load=load,
        ),
        Row(
            name="hostile.yaml.lsp",
            what="LSP: bomb edited → its diagnostic published",
            unit="s",
            kodama=lsp["diagnostics"],
            target=limit,
            load=load,
        ),
        Row(
            name="hostile.yaml.lsp.other",
            what="LSP: a request sent with the bomb edit answered",
            unit="s",
            kodama=lsp["concurrent"],
            target=limit,
            load=load,
        ),
    ]


def _main() -> None:  # pragma: no cover - a quick look without run.py
    from harness import table

    print(table(bench(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))


if __name__ == "__main__":
    _main()
