"""An editor stand-in for the benchmarks: the real `python -m kodama_lsp` over stdio, driven by
pygls' own LanguageClient the way VS Code and Neovim do (initialize with the kubeconfig and
namespace as initializationOptions, initialized, then requests)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness import Env, vm_rss_mb
from lsprotocol import types
from pygls.lsp.client import LanguageClient

AGENT_STATE = "kodama/agentState"
SESSIONS_CHANGED = "kodama/sessionsChanged"
CONFIG_TEXT = "image: busybox\nresources:\n  cpu: 500m\n"


def field(params: Any, key: str) -> Any:
    """A notification's params arrive as a dict or as pygls' attribute object."""
    if isinstance(params, dict):
        return params.get(key)
    return getattr(params, key, None)


class Editor:
    def __init__(
        self, env: Env, namespace: str, kubeconfig: Path | None = None, **options: Any
    ) -> None:
        self.env = env
        self.kubeconfig = kubeconfig or env.kubeconfig
        self.namespace = namespace
        self.options = options
        self.client = LanguageClient("kodama-bench", "1")
        # (monotonic time, params) of every kodama/agentState and kodama/sessionsChanged
        self.agent_states: list[tuple[float, Any]] = []
        self.session_lists: list[tuple[float, Any]] = []
        for method in (
            types.WINDOW_SHOW_MESSAGE_REQUEST,  # answered "no choice"
            types.WINDOW_WORK_DONE_PROGRESS_CREATE,
            types.PROGRESS,
            types.WINDOW_LOG_MESSAGE,
            types.WINDOW_SHOW_MESSAGE,
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            "kodama/syncStatus",
        ):
            self.client.feature(method)(lambda _params: None)
        self.client.feature(AGENT_STATE)(lambda p: self.agent_states.append((time.monotonic(), p)))
        self.client.feature(SESSIONS_CHANGED)(
            lambda p: self.session_lists.append((time.monotonic(), p))
        )
        self.pid = 0

    async def start(
        self, extra_env: dict[str, str] | None = None, argv: list[str] | None = None
    ) -> None:
        """Start the server (`python -m kodama_lsp`, or `python *argv`) and initialize it."""
        env = {**self.env.environ(), **(extra_env or {})}
        args = argv or ["-m", "kodama_lsp"]
        await self.client.start_io(sys.executable, *args, env=env, cwd=str(self.env.repo))
        server = self.client._server  # the subprocess pygls started
        assert server is not None
        self.pid = server.pid
        root = self.env.repo.as_uri()
        await self.client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=root,
                workspace_folders=[types.WorkspaceFolder(uri=root, name="repo")],
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True)
                ),
                initialization_options={
                    "kubeconfig": str(self.kubeconfig),
                    "namespace": self.namespace,
                    **self.options,
                },
            )
        )
        self.client.initialized(types.InitializedParams())
        # What an editor opens: a source file (code actions) and the repository's config (hover).
        for name, text in (("README.md", "bench\n"), (".kodama.yaml", CONFIG_TEXT)):
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=self.uri(name), language_id="yaml", version=1, text=text
                    )
                )
            )

    def uri(self, name: str) -> str:
        return (self.env.repo / name).as_uri()

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def rss_mb(self) -> float:
        return vm_rss_mb(self.pid)

    async def command(self, command: str, arg: dict[str, Any]) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[arg])
        )

    # -- the requests the latency rows time ----------------------------------------------------

    def requests(self) -> dict[str, Callable[[], Awaitable[Any]]]:
        readme = types.TextDocumentIdentifier(uri=self.uri("README.md"))
        config = types.TextDocumentIdentifier(uri=self.uri(".kodama.yaml"))
        return {
            "kodama.session.list": lambda: self.command("kodama.session.list", {}),
            "kodama.session.suggestName": lambda: self.command("kodama.session.suggestName", {}),
            "textDocument/codeAction": lambda: self.client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=readme,
                    range=types.Range(
                        start=types.Position(line=0, character=0),
                        end=types.Position(line=0, character=0),
                    ),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            ),
            "textDocument/hover": lambda: self.client.text_document_hover_async(
                types.HoverParams(
                    text_document=config, position=types.Position(line=0, character=2)
                )
            ),
        }

    async def stop(self) -> None:
        server = self.client._server
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
            await asyncio.sleep(0.2)
        except (TimeoutError, Exception):  # a benchmark's teardown must not hide its result
            pass
        finally:
            if server is not None and server.returncode is None:
                server.terminate()
            await self.client.stop()  # type: ignore[no-untyped-call]


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0
