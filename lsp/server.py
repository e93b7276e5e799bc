"""kodama-lsp: wires LSP methods once and delegates to the feature modules.

features/: registry.py (the server commands, workspace/executeCommand, in *_cmds.py by verb
family; commands.py holds what they share), code_actions.py, config_docs.py (diagnostics,
completion, hover of config files), refresh.py (background notifications); progress.py turns
engine events into $/progress. Protocol reference: docs/lsp-protocol.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import lsp_method
from pygls.uris import to_fs_path

from kodama import __version__
from kodama.errors import InvalidInput
from kodama.events import CancelToken
from kodama.validation import validate_namespace

from .features import code_actions, commands, config_docs, registry
from .features.local_facts import LocalFacts
from .features.refresh import Refresher
from .wire import PlainJsonProtocol, serve_io

if TYPE_CHECKING:  # the engine pulls in the kubernetes client: loaded on first use, not
    # before `initialize` is answered
    from kodama.engine import SessionEngine
    from kodama.k8s.cluster import Cluster, KubeTarget
    from kodama.store import Store

T = TypeVar("T")
log = logging.getLogger("kodama_lsp")


class InitOptions:
    """initializationOptions (docs/lsp-protocol.md), validated."""

    def __init__(self, raw: Any) -> None:
        data = raw if isinstance(raw, dict) else {}
        self.kubeconfig = _opt_str(data, "kubeconfig")
        self.context = _opt_str(data, "context")
        self.namespace = _opt_str(data, "namespace")
        if self.namespace:
            validate_namespace(self.namespace)
        interval = data.get("refreshInterval", 5)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise InvalidInput("initializationOptions.refreshInterval must be a positive number")
        self.refresh_interval = float(interval)

    def kube_flags(self, namespace: str | None = None) -> list[str]:
        flags: list[str] = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--context", self.context]
        if namespace or self.namespace:
            flags += ["-n", namespace or self.namespace or ""]
        return flags


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"initializationOptions.{key} must be a string")
    return os.path.expanduser(value) if key == "kubeconfig" else value


class KodamaProtocol(PlainJsonProtocol):
    """pygls' protocol, with executeCommand handing the whole request to commands.py.

    pygls passes only `arguments` to a command; Kodama's commands also need the request id
    (to honour $/cancelRequest while the engine runs) and the workDoneToken.
    """

    _server: KodamaServer

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: types.ExecuteCommandParams
    ) -> Any:
        # A coroutine, not pygls' generator form: pygls 2.1 files the future of a generator's
        # yielded step under a fresh uuid it never removes, so every command's result stayed
        # in memory (+15 MB per 200 lists; bench/README.md).
        if params.command not in self.fm.commands:
            raise JsonRpcInvalidParams(f"unknown command {params.command!r}")
        return await commands.execute(self._server, params, self.msg_id)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # A running engine call is cancelled through its token (it rolls back, then the request
        # answers RequestCancelled); anything else the pygls way.
        if not self._server.cancel_running(msg_id):
            super()._handle_cancel_notification(msg_id)


class KodamaServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("kodama-lsp", __version__, protocol_cls=KodamaProtocol)
        self.options = InitOptions(None)
        self.engine_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kodama-engine")
        self.running: dict[Any, CancelToken] = {}  # request id -> token
        self.progress_cancels: dict[Any, CancelToken] = {}  # progress token -> token
        self.refresher = Refresher(self)
        self.local_facts = LocalFacts()
        self._clusters: dict[KubeTarget, Cluster] = {}
        self._clusters_lock = threading.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- client facts -------------------------------------------------------------------------

    def supports_progress_create(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    def supports_open_terminal(self) -> bool:
        experimental = self.client_capabilities.experimental
        if not isinstance(experimental, dict):
            return False
        kodama = experimental.get("kodama")
        return isinstance(kodama, dict) and bool(kodama.get("openTerminal"))

    def workspace_root(self) -> Path:
        try:
            folders = list(self.workspace.folders.values())
            if folders:
                return Path(to_fs_path(folders[0].uri) or os.getcwd())
            if self.workspace.root_path:
                return Path(self.workspace.root_path)
        except RuntimeError:  # not initialized
            pass
        return Path.cwd()

    # -- engine -------------------------------------------------------------------------------

    def engine(
        self, root: Path | None = None, namespace: str | None = None, store: Store | None = None
    ) -> SessionEngine:
        """A fresh engine per call (config files are re-read); API clients are shared."""
        from kodama.engine import SessionEngine
        from kodama.k8s.cluster import KubeTarget

        opts = self.options
        target = KubeTarget(opts.kubeconfig, opts.context, namespace or opts.namespace)
        return SessionEngine(
            target, cwd=root or self.workspace_root(), store=store, cluster_factory=self._cluster
        )

    def _cluster(self, target: KubeTarget) -> Cluster:
        from kodama.k8s.cluster import Cluster

        with self._clusters_lock:
            cluster = self._clusters.get(target)
            if cluster is None:
                cluster = self._clusters[target] = Cluster(target)
            return cluster

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking engine call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.engine_pool, lambda: fn(*args))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in the background (kept referenced; failures logged)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)

    def cancel_running(self, request_id: Any) -> bool:
        token = self.running.get(request_id)
        if token is None:
            return False
        token.cancel()
        return True

    # -- messages -----------------------------------------------------------------------------

    def log(self, message: str, level: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=level, message=message))

    def show_error(self, message: str) -> None:
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=message)
        )

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, JsonRpcException) and error.code in commands.EXPECTED_CODES:
            return  # already answered (and shown) as a Kodama error
        super().report_server_error(error, source)


def build() -> KodamaServer:
    server = KodamaServer()

    for name, handler in registry.COMMANDS.items():  # `execute` dispatches from the same table
        server.command(name)(handler)

    @server.feature(types.INITIALIZE)
    def initialize(ls: KodamaServer, params: types.InitializeParams) -> None:
        try:
            ls.options = InitOptions(params.initialization_options)
        except InvalidInput as exc:
            ls.options = InitOptions(None)
            ls.show_error(f"kodama-lsp: {exc.message} (using defaults)")

    @server.feature(types.INITIALIZED)
    def initialized(ls: KodamaServer, _params: types.InitializedParams) -> None:
        ls.refresher.start()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: KodamaServer, _params: Any) -> None:
        ls.refresher.stop()
        for token in list(ls.running.values()):
            token.cancel()

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: KodamaServer, params: types.WorkDoneProgressCancelParams) -> None:
        token = ls.progress_cancels.get(params.token)
        if token is not None:
            token.cancel()

    async def publish(ls: KodamaServer, uri: str, version: int | None) -> None:
        path = to_fs_path(uri)
        if path is None or not config_docs.is_config_path(Path(path)):
            return
        doc = ls.workspace.get_text_document(uri)
        # Parsing is bounded (hostile YAML is refused early) but still runs off the event loop:
        # a file being typed never delays the answers to other requests.
        diagnostics = await asyncio.to_thread(config_docs.diagnostics, doc.source, path)
        if ls.workspace.get_text_document(uri).version != version:
            return  # edited meanwhile: the newer change publishes its own
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
        )

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: KodamaServer, params: types.DidOpenTextDocumentParams) -> None:
        await publish(ls, params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: KodamaServer, params: types.DidChangeTextDocumentParams) -> None:
        await publish(ls, params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: KodamaServer, params: types.DidCloseTextDocumentParams) -> None:
        path = to_fs_path(params.text_document.uri)
        if path and config_docs.is_config_path(Path(path)):
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )

    def config_text(ls: KodamaServer, uri: str) -> str | None:
        path = to_fs_path(uri)
        if path is None or not config_docs.is_config_path(Path(path)):
            return None
        return ls.workspace.get_text_document(uri).source

    @server.feature(types.TEXT_DOCUMENT_COMPLETION)
    def completion(ls: KodamaServer, params: types.CompletionParams) -> types.CompletionList | None:
        text = config_text(ls, params.text_document.uri)
        return None if text is None else config_docs.completion(text, params.position)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: KodamaServer, params: types.HoverParams) -> types.Hover | None:
        text = config_text(ls, params.text_document.uri)
        return None if text is None else config_docs.hover(text, params.position)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[code_actions.KIND]),
    )
    async def code_action(
        ls: KodamaServer, params: types.CodeActionParams
    ) -> list[dict[str, Any]] | None:
        return await code_actions.actions(ls, params)

    return server


class _QuietExpected(logging.Filter):
    """pygls logs every error response with a traceback; Kodama errors are expected ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and exc.code in commands.EXPECTED_CODES)


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kodama-lsp", description="Kodama language server (stdio by default)."
    )
    parser.add_argument("--version", action="version", version=f"kodama-lsp {__version__}")
    parser.add_argument("--stdio", action="store_true", help="Use stdio (the default).")
    parser.add_argument("--tcp", action="store_true", help="Listen on TCP (for debugging).")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087).")
    parser.add_argument("-v", "--verbose", action="store_true", help="Debug logs on stderr.")
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="kodama-lsp %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietExpected())

    server = build()
    if args.tcp:
        server.start_tcp(args.host, args.port)
        return
    # The protocol owns the real stdout; anything else that writes to fd 1 (a stray print, a
    # child process) lands on stderr instead of corrupting the JSON-RPC stream.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Likewise stdin: the loop reads it non-blocking (wire.py), and a child that read fd 0 would
    # take the client's messages; children get /dev/null.
    protocol_in = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, sys.stdin.fileno())
    os.close(null)
    serve_io(server, protocol_in, protocol_out)
