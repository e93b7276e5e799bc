"""Reading a kubeconfig into what an HTTPS request needs: server, TLS context, auth header.

The kubernetes client's loader imports its whole generated API (~700 model modules, most of a
second on a busy machine) before it reads a line of YAML; every verb paid that. This reads the
same fields kubectl does for the common shapes (client certificates, bearer token or token file,
basic auth, exec credential plugins, in-cluster service account). The legacy `auth-provider`
plugins (oidc, gcp, azure) still go through the kubernetes client (kodama.k8s.cluster).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from kodama.errors import ClusterError

INCLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class NeedsClientLoader(Exception):
    """The user entry uses an auth-provider plugin: only the kubernetes client knows them."""


_parsed: dict[tuple[str, int, int], Any] = {}


def read_config(path: str) -> dict[str, Any]:
    """The parsed file; a command asks several times (namespace, context, credentials), so a
    parse is kept while the file is unchanged. Callers only read it."""
    try:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in _parsed:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            _parsed[key] = yaml.load(Path(path).read_text(), Loader=loader)
        data = _parsed[key]
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ClusterError(f"invalid kubeconfig {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ClusterError(f"invalid kubeconfig {path}: not a mapping")
    return data


def _named(data: dict[str, Any], kind: str, name: str | None) -> dict[str, Any] | None:
    for item in data.get(kind) or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(kind[:-1]) or {}
            return value if isinstance(value, dict) else None
    return None


def contexts(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(every context entry, the current one), as kubernetes' list_kube_config_contexts."""
    items = [c for c in data.get("contexts") or [] if isinstance(c, dict)]
    current = data.get("current-context")
    active = next((c for c in items if c.get("name") == current), None)
    return items, active


@dataclass
class Credentials:
    """What each request needs; the bearer token of an exec plugin is renewed when it expires."""

    server: str
    # A fresh context per user: urllib3 changes the one it is given (verify_mode, check_hostname).
    ssl_factory: Callable[[], ssl.SSLContext] | None  # None for plain http
    insecure: bool = False
    server_hostname: str | None = None
    token: str | None = None
    basic: str | None = None
    token_file: str | None = None
    exec_config: dict[str, Any] | None = None
    base_dir: str = "."
    _expires: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def headers(self) -> dict[str, str]:
        token = self._bearer()
        if token:
            return {"authorization": f"Bearer {token}"}
        if self.basic:
            return {"authorization": f"Basic {self.basic}"}
        return {}

    def _bearer(self) -> str | None:
        if self.exec_config is not None:
            with self._lock:
                if self.token is None or (self._expires and time.time() > self._expires - 10):
                    status = run_exec_plugin(self.exec_config, self.base_dir)
                    self.token = status.get("token")
                    self._expires = _timestamp(status.get("expirationTimestamp"))
            return self.token
        if self.token_file:
            # Bound service-account tokens rotate on disk: read the file again each time.
            try:
                return Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise ClusterError(f"cannot read the token file {self.token_file}: {exc}") from None
        return self.token


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_exec_plugin(cfg: dict[str, Any], base_dir: str) -> dict[str, Any]:
    """client.authentication.k8s.io exec plugin: run it, return the ExecCredential's status."""
    command = cfg.get("command")
    if not command:
        raise ClusterError("invalid kubeconfig: exec plugin without a command")
    argv = [str(command), *[str(a) for a in cfg.get("args") or []]]
    env = dict(os.environ)
    for item in cfg.get("env") or []:
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    info = {
        "apiVersion": cfg.get("apiVersion") or "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    try:
        proc = subprocess.run(
            argv, env=env, cwd=base_dir, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"the kubeconfig's exec plugin {command} failed: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        raise ClusterError(
            f"the kubeconfig's exec plugin {command} exited {proc.returncode}: {last}",
            hint="log in again with your cluster provider's tool",
        )
    try:
        status = json.loads(proc.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise ClusterError(
            f"the kubeconfig's exec plugin {command} printed no credential"
        ) from None
    if not isinstance(status, dict):
        raise ClusterError(f"the kubeconfig's exec plugin {command} printed no credential")
    return status


def _material(entry: dict[str, Any], key: str, base_dir: str) -> bytes | None:
    """`key-data` (base64) or `key` (a file, relative to the kubeconfig's folder)."""
    data = entry.get(f"{key}-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(key)
    if path:
        return Path(base_dir, os.path.expanduser(str(path))).read_bytes()
    return None


def _load_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads a client certificate from files: a private folder, removed at once.
    with tempfile.TemporaryDirectory(prefix="kodama-tls-") as tmp:
        cert_path, key_path = Path(tmp, "cert"), Path(tmp, "key")
        for path, content in ((cert_path, cert), (key_path, key)):
            path.touch(mode=0o600)
            path.write_bytes(content)
        ctx.load_cert_chain(str(cert_path), str(key_path))


def ssl_context(
    cluster: dict[str, Any], user: dict[str, Any], base_dir: str, exec_status: dict[str, Any]
) -> ssl.SSLContext:
    # Not create_default_context(): loading the system's CA bundle took 0.4 s of CPU here, and
    # a kubeconfig that names its CA trusts that CA alone (as kubectl does).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = _material(cluster, "certificate-authority", base_dir)
        if ca:
            ctx.load_verify_locations(cadata=ca.decode())
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    cert = _material(user, "client-certificate", base_dir)
    key = _material(user, "client-key", base_dir)
    if exec_status.get("clientCertificateData") and exec_status.get("clientKeyData"):
        cert = str(exec_status["clientCertificateData"]).encode()
        key = str(exec_status["clientKeyData"]).encode()
    if cert and key:
        _load_chain(ctx, cert, key)
    return ctx


def from_kubeconfig(path: str, context: str | None) -> Credentials:
    data = read_config(path)
    base_dir = str(Path(path).parent)
    names = [c.get("name") for c in contexts(data)[0]]
    name = context or data.get("current-context")
    if not name or name not in names:
        raise ClusterError(
            f"invalid kubeconfig {path}: "
            + (f"context {name!r} not found" if name else "no current-context is set"),
            hint="pass --context NAME (`kubectl config get-contexts` lists them)",
        )
    ctx = _named(data, "contexts", name) or {}
    cluster = _named(data, "clusters", ctx.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise ClusterError(f"invalid kubeconfig {path}: context {name!r} names no cluster server")
    user = _named(data, "users", ctx.get("user")) or {}
    if user.get("auth-provider"):
        raise NeedsClientLoader()
    server = str(cluster["server"]).rstrip("/")
    exec_cfg = user.get("exec") if isinstance(user.get("exec"), dict) else None
    exec_status: dict[str, Any] = {}
    creds = Credentials(server=server, ssl_factory=None, base_dir=base_dir)
    try:
        if exec_cfg is not None:
            exec_status = run_exec_plugin(exec_cfg, base_dir)
            creds.exec_config = exec_cfg
            creds.token = exec_status.get("token")
            creds._expires = _timestamp(exec_status.get("expirationTimestamp"))
        elif user.get("tokenFile"):
            creds.token_file = str(Path(base_dir, os.path.expanduser(str(user["tokenFile"]))))
        elif user.get("token"):
            creds.token = str(user["token"])
        elif user.get("username") and user.get("password"):
            pair = f"{user['username']}:{user['password']}"
            creds.basic = base64.b64encode(pair.encode()).decode()
        if server.startswith("https://"):
            # Built now so that bad material fails here; the first user takes this one.
            first = [ssl_context(cluster, user, base_dir, exec_status)]
            creds.ssl_factory = lambda: (
                first.pop() if first else ssl_context(cluster, user, base_dir, exec_status)
            )
            creds.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise ClusterError(f"invalid kubeconfig {path}: {exc}") from None
    creds.server_hostname = cluster.get("tls-server-name") or None
    return creds


def in_cluster() -> Credentials:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"

    def factory() -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(INCLUSTER_DIR / "ca.crt"))

    try:
        factory()
    except (OSError, ssl.SSLError) as exc:
        raise ClusterError(f"invalid in-cluster configuration: {exc}") from None
    return Credentials(
        server=f"https://{host}:{port}",
        ssl_factory=factory,
        token_file=str(INCLUSTER_DIR / "token"),
    )
