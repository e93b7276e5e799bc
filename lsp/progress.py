"""Engine events -> LSP work-done progress ($/progress) and window/logMessage.

The engine calls the sink from a worker thread; everything that touches the connection is
handed to the event loop with call_soon_threadsafe, because pygls' writer is not thread-safe.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from lsprotocol import types

from kodama.events import Event, EventKind

if TYPE_CHECKING:
    from .server import KodamaServer


class WorkDone:
    """One command's progress. `sink` may be called from any thread."""

    def __init__(self, ls: KodamaServer, token: types.ProgressToken | None, title: str) -> None:
        self.ls = ls
        self.token = token
        self.title = title
        self.loop = asyncio.get_running_loop()
        self.last_message: str | None = None
        self._ended = False

    @classmethod
    async def open(
        cls, ls: KodamaServer, client_token: types.ProgressToken | None, title: str
    ) -> WorkDone:
        """Use the client's workDoneToken, else create one when the client supports it."""
        token = client_token
        if token is None and ls.supports_progress_create():
            token = f"kodama-{uuid.uuid4()}"
            try:
                await ls.work_done_progress.create_async(token)
            except Exception as exc:  # the client refused: go on without a progress UI
                ls.log(f"window/workDoneProgress/create failed: {exc}", types.MessageType.Warning)
                token = None
        work = cls(ls, token, title)
        if token is not None:
            ls.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=True)
            )
        return work

    def sink(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self._emit, event)

    def _emit(self, event: Event) -> None:
        level = (
            types.MessageType.Warning if event.kind == EventKind.WARNING else types.MessageType.Log
        )
        self.ls.log(event.message, level)
        if event.kind == EventKind.DONE:
            self.last_message = event.message
            return
        message = f"warning: {event.message}" if event.kind == EventKind.WARNING else event.message
        self.last_message = message
        if self.token is not None and not self._ended:
            self.ls.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, cancellable=True)
            )

    def end(self, message: str | None = None) -> None:
        """Close the progress; call on the event loop after the engine call returned."""
        if self._ended:
            return
        self._ended = True
        if self.token is not None:
            self.ls.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message or self.last_message)
            )
            self.ls.work_done_progress.tokens.pop(self.token, None)
