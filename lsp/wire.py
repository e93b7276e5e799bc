"""The JSON-RPC transport, tuned for answering fast while engine threads keep the GIL busy.

Under load (a start and a sync in this process on two cores, issue 18) every request paid for
two things that are not its own work:
- pygls reads stdin in a thread pool, three hops per message (two header lines, the body), and
  each hop waits for the GIL twice. Here the event loop reads the pipe itself.
- pygls turns every message into JSON through cattrs, even results and notifications that are
  plain dicts already: 10 ms for a list of 50 sessions against 0.2 ms for json.dumps alone.
  Here those skip cattrs; anything else (lsprotocol objects) goes the pygls way, also when it
  sits inside a plain result (json.dumps calls pygls' serializer for it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.protocol import LanguageServerProtocol

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


class PlainJsonProtocol(LanguageServerProtocol):
    """Results and notifications that are plain JSON already are sent as they are."""

    def _send_response(self, msg_id: Any, result: Any | None = None, error: Any = None) -> None:
        if error is None and type(result) in (dict, list):
            self._result_types.pop(msg_id, None)  # pygls keeps it until the response is sent
            self._send_data({"id": msg_id, "jsonrpc": self.VERSION, "result": result})
            return
        super()._send_response(msg_id, result, error)

    def notify(self, method: str, params: Any | None = None) -> None:
        # Only Kodama's own notifications: the LSP ones have types pygls must apply.
        if method.startswith("kodama/") and type(params) is dict:
            self._send_data({"method": method, "params": params, "jsonrpc": self.VERSION})
            return
        super().notify(method, params)


def readable_by_loop(stdin: BinaryIO) -> bool:
    """asyncio reads pipes, sockets and character devices; a regular file it cannot."""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def serve_io(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' start_io, with the event loop reading stdin (no thread hop per message)."""
    if not readable_by_loop(stdin):
        server.start_io(stdin, stdout)
        return
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
        await run_async(
            stop_event=stop,
            reader=reader,
            protocol=server.protocol,
            logger=log,
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(main())
    except asyncio.IncompleteReadError:
        log.error("The client closed the connection in the middle of a message.")
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
