"""HTTPS to the API server over urllib3, and exec over its websocket: what Kodama's dozen core/v1
calls need, without the kubernetes client's generated models (kodama.k8s.cluster uses this)."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from kodama.errors import (
    AlreadyExists,
    ClusterError,
    Forbidden,
    InvalidInput,
    KodamaError,
    NotFound,
)
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

    def watch(self, path: str, query: dict[str, Any], read_timeout: float) -> Any:
        """An open watch response: iterate it for one JSON event per line; shutdown() ends it
        from another thread."""
        url = self.creds.server + path + "?" + urlencode({**query, "watch": "1"})
        headers = {"accept": "application/json", **self.creds.headers()}
        try:
            res = self.pool.request(
                "GET",
                url,
                headers=headers,
                timeout=urllib3.Timeout(connect=5, read=read_timeout),
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(0, str(exc)) from exc
        if not 200 <= res.status < 300:
            text = res.read().decode("utf-8", "replace")
            res.release_conn()
            raise ApiError(res.status, res.reason or "", text)
        return res

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


class Follower(threading.Thread):
    """Watches one object (a field selector) and puts (event type, object) on a queue;
    ("error", exception) ends it. stop() ends its blocked read at once."""

    def __init__(
        self,
        rest: Rest,
        path: str,
        field_selector: str,
        version: str,
        out: queue.Queue[tuple[str, Any]],
        *,
        relist: Callable[[], tuple[dict[str, Any] | None, str]],
        translate: Callable[[Exception], Exception],
    ) -> None:
        super().__init__(daemon=True, name=f"watch {path} {field_selector}")
        self.rest, self.path, self.version, self.out = rest, path, version, out
        self.relist, self.translate = relist, translate
        self.query = {
            "fieldSelector": field_selector,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "50",
        }
        self._stopped = threading.Event()
        self._res: Any = None

    def stop(self) -> None:
        self._stopped.set()
        res = self._res
        if res is not None:
            with contextlib.suppress(Exception):
                res.shutdown()

    def run(self) -> None:
        try:
            while not self._stopped.is_set():
                res = self._res = self.rest.watch(
                    self.path, {**self.query, "resourceVersion": self.version}, 70
                )
                try:
                    if self._stopped.is_set():  # stop() came while the watch was opening
                        return
                    for line in res:
                        if self._stopped.is_set():
                            return
                        self._event(json.loads(line))
                finally:
                    self._res = None
                    if self._stopped.is_set():
                        res.close()  # not back to the pool: its socket may be shut down
                    else:
                        res.release_conn()
        except Exception as exc:
            if not self._stopped.is_set():
                self.out.put(("error", self.translate(exc)))

    def _event(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            # 410 Gone: too old a version to resume from. Read the object afresh.
            found, self.version = self.relist()
            self.out.put(("MODIFIED" if found else "DELETED", found))
            return
        self.version = str((obj.get("metadata") or {}).get("resourceVersion") or self.version)
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.out.put((str(kind), obj))


def translate(exc: Exception, action: str) -> KodamaError:
    """Turn API errors into one-line KodamaErrors. `action` like 'create pods'."""
    if isinstance(exc, KodamaError):
        return exc
    if isinstance(exc, ApiError) and exc.status:
        message = ""
        reason = exc.reason or ""
        try:
            body = json.loads(exc.body or "{}")
            message = body.get("message", "") or ""
        except (ValueError, TypeError, AttributeError):
            message = (exc.body or "").strip()
        if exc.status == 401:
            return ClusterError(
                "the cluster rejected your credentials (expired or invalid)",
                hint="refresh your kubeconfig credentials (e.g. log in again) and retry",
            )
        if exc.status == 403:
            if "exceeded quota" in message:
                return ClusterError(
                    f"cannot {action}: {message}", hint="free quota or ask for more"
                )
            if "violates PodSecurity" in message:
                return InvalidInput(f"cannot {action}: {message}")
            return Forbidden(
                f"forbidden: cannot {action}" + (f" ({message})" if message else ""),
                hint="`kubectl kodama rbac` prints the Role Kodama needs",
            )
        if exc.status == 404:
            return NotFound(message or f"not found while trying to {action}")
        if exc.status == 409:
            return AlreadyExists(message or f"already exists while trying to {action}")
        if exc.status == 422:
            return InvalidInput(f"cannot {action}: {message or reason}")
        return ClusterError(f"cannot {action}: {message or reason} (HTTP {exc.status})")
    if isinstance(exc, ApiError | OSError):
        text = exc.reason if isinstance(exc, ApiError) else str(exc)
        if "Max retries" in text or "Connection refused" in text or "timed out" in text.lower():
            text = "connection refused or timed out"
        return ClusterError(
            f"cannot reach the cluster: {text}", hint="check --kubeconfig/--context"
        )
    return ClusterError(f"cannot {action}: {exc}")
