"""Drive the real kodama-lsp (a subprocess) with pytest-lsp clients of VS Code and Neovim shape."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.fixtures.repo import make_repo

CLIENTS = ["visual-studio-code", "neovim@v0.11.0"]


@dataclass
class Answers:
    """What the test client replies to the server's requests."""

    message_request: str | None = None  # title of the action to pick; None = dismiss
    open_terminal: dict[str, Any] | None = field(default_factory=lambda: {"opened": True})
    asked: list[types.ShowMessageRequestParams] = field(default_factory=list)
    terminals: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[tuple[str, Any]] = field(default_factory=list)
    initialize: types.InitializeResult | None = None


def plain(value: Any) -> Any:
    """pygls hands params of non-LSP methods over as namedtuples: back to JSON shapes."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def make_client(answers: Answers) -> LanguageClient:
    client = make_test_lsp_client()

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def show_message_request(
        params: types.ShowMessageRequestParams,
    ) -> types.MessageActionItem | None:
        answers.asked.append(params)
        if answers.message_request is None:
            return None
        return types.MessageActionItem(title=answers.message_request)

    @client.feature("kodama/openTerminal")
    def open_terminal(params: Any) -> Any:
        answers.terminals.append(plain(params))
        return answers.open_terminal

    for method in ("kodama/sessionsChanged", "kodama/agentState", "kodama/syncStatus"):

        def record(params: Any, method: str = method) -> None:
            answers.notifications.append((method, plain(params)))

        client.feature(method)(record)
    return client


@contextlib.asynccontextmanager
async def lsp_session(
    *,
    client_name: str,
    root: Path,
    home: Path,
    init_options: dict[str, Any] | None = None,
    open_terminal: bool = False,
    answers: Answers | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[LanguageClient, Answers]]:
    answers = answers or Answers()
    client = make_client(answers)
    environ = dict(os.environ)
    environ.update({"KODAMA_HOME": str(home), "KUBECACHEDIR": str(home / "kube-cache")})
    for key in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "KUBECONFIG"):
        environ.pop(key, None)
    environ.update(env or {})
    await client.start_io(sys.executable, "-m", "kodama_lsp", env=environ, cwd=str(root))
    caps = client_capabilities(client_name)
    if open_terminal:
        caps.experimental = {"kodama": {"openTerminal": True}}
    answers.initialize = await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            process_id=os.getpid(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options or {},
        )
    )
    try:
        yield client, answers
    finally:
        await client.shutdown_session()


async def execute(client: LanguageClient, command: str, arg: dict[str, Any] | None = None) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[arg or {}])
    )


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """A request whose result stays plain JSON.

    lsprotocol's converter reads every code action that has a `command` as a Command (losing
    kind and arguments); real editors do not, so tests look at the JSON the server sent.
    """
    msg_id = str(uuid.uuid4())
    future = client.protocol.send_request(method, params, msg_id=msg_id)
    client.protocol._result_types.pop(msg_id, None)
    return await asyncio.wrap_future(future)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "kodama-home"
    h.mkdir()
    return h


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


Session = Callable[..., contextlib.AbstractAsyncContextManager[tuple[LanguageClient, Answers]]]
