"""HTTPS to the API server over urllib3, and exec over its websocket: what Kodama's dozen core/v1
calls need, without the kubernetes client's generated models (kodama.k8s.cluster uses this)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from kodama.k8s.kubeconfig import Credentials

# A kubeconfig with insecure-skip-tls-verify is the user's explicit choice; kubectl honours it
# silently, while urllib3 would print a multi-line warning on every request.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

TIMEOUT = urllib3.Timeout(connect=5, read=60)

STDOUT, STDERR, ERROR = 1, 2, 3


class ApiError(Exception):
    """A non-2xx answer; status 0 when the server could not be reached."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"({status}) {reason}")
        self.status = status
        self.reason = reason
        self.body = body


class Rest:
    def __init__(self, creds: Credentials) -> None:
        self.creds = creds
        kwargs: dict[str, Any] = {"maxsize": 16, "block": False, "retries": urllib3.Retry(1)}
        if creds.ssl_factory is not None:
            kwargs["ssl_context"] = creds.ssl_factory()
            kwargs["cert_reqs"] = "CERT_NONE" if creds.insecure else "CERT_REQUIRED"
            if creds.insecure:
                kwargs["assert_hostname"] = False
            elif creds.server_hostname:
                kwargs["server_hostname"] = creds.server_hostname
                kwargs["assert_hostname"] = creds.server_hostname
        self.pool = urllib3.PoolManager(**kwargs)
        self._ws_context: Any = None

    @property
    def host(self) -> str:
        return self.creds.server

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: urllib3.Timeout = TIMEOUT,
    ) -> Any:
        """The decoded JSON answer; ApiError otherwise."""
        url = self.creds.server + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        headers = {"accept": "application/json", **self.creds.headers()}
        data = None
        if body is not None:
            headers["content-type"] = content_type
            data = json.dumps(body).encode()
        try:
            res = self.pool.request(
                method, url, body=data, headers=headers, timeout=timeout, preload_content=True
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(0, str(exc)) from exc
        text = res.data.decode("utf-8", "replace")
        if not 200 <= res.status < 300:
            raise ApiError(res.status, res.reason or "", text)
        return json.loads(text) if text else {}

    def exec_stdout(self, path: str, command: list[str], container: str, timeout: float) -> str:
        """Run `command` through the pods/exec websocket (v4 channel protocol); its stdout."""
        import websocket  # websocket-client: only exec needs it

        query = [("container", container), ("stdout", "true"), ("stderr", "false")]
        query += [("stdin", "false"), ("tty", "false")]
        query += [("command", c) for c in command]
        url = self.creds.server.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url += path + "?" + urlencode(query, quote_via=quote)
        sslopt: dict[str, Any] = {}
        if self.creds.ssl_factory is not None:
            if self._ws_context is None:  # websocket-client does not change a given context
                self._ws_context = self.creds.ssl_factory()
            sslopt["context"] = self._ws_context
            sslopt["check_hostname"] = not self.creds.insecure
            if self.creds.server_hostname:
                sslopt["server_hostname"] = self.creds.server_hostname
        header = [f"{k}: {v}" for k, v in self.creds.headers().items()]
        end = time.monotonic() + timeout
        try:
            ws = websocket.create_connection(
                url,
                header=header,
                subprotocols=["v4.channel.k8s.io"],
                sslopt=sslopt,
                timeout=timeout,
                enable_multithread=False,
            )
        except websocket.WebSocketBadStatusException as exc:
            body = exc.resp_body.decode("utf-8", "replace") if exc.resp_body else ""
            raise ApiError(exc.status_code, str(exc), body) from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise ApiError(0, str(exc)) from exc
        out: list[bytes] = []
        try:
            while (left := end - time.monotonic()) > 0:
                ws.settimeout(left)
                try:
                    opcode, data = ws.recv_data()
                except (
                    websocket.WebSocketConnectionClosedException,
                    websocket.WebSocketTimeoutException,
                ):
                    break  # as kubernetes' stream(): what arrived before the deadline
                except (websocket.WebSocketException, OSError) as exc:
                    raise ApiError(0, str(exc)) from exc
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if data and data[0] == STDOUT:
                    out.append(data[1:])
        finally:
            ws.close()
        return b"".join(out).decode("utf-8", "replace")
