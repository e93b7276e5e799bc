"""The engine's SessionWatch against the real API server: it follows sessions made by others,
resumes a watch the server ended from where it was (no new list), and a version that is too
old is refused with 410 (WatchExpired), which makes it list again."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kodama.engine import SessionEngine
from kodama.engine.watch import SessionWatch
from kodama.k8s.cluster import KubeTarget
from kodama.k8s.watching import WatchExpired, watch_events
from kodama.store import Store

from .conftest import Kodama, poll

pytestmark = pytest.mark.cluster


def engine_of(k: Kodama) -> SessionEngine:
    target = KubeTarget(str(k.kubeconfig), None, k.namespace)
    return SessionEngine(target, cwd=k.cwd, store=Store(k.home))


def test_follows_sessions_and_resumes_ended_watches_without_listing(
    kodama: Kodama, monkeypatch: pytest.MonkeyPatch
) -> None:
    k = kodama
    monkeypatch.setenv("KUBECACHEDIR", str(k.home / "kube-cache"))
    k.run("start", "w1", "--no-wait")
    changed = threading.Event()
    watch = SessionWatch(engine_of(k), k.namespace, changed.set, seconds=1)
    watch.start()
    try:
        poll(lambda: watch.synced, timeout=60, interval=0.1)
        assert changed.is_set()
        assert [s.name for s in watch.sessions()] == ["w1"]
        # The API server ends each watch after about a second: let it end and resume twice.
        poll(lambda: watch.watches >= 6, timeout=60, interval=0.1)
        k.run("start", "w2", "--no-wait")
        poll(lambda: [s.name for s in watch.sessions()] == ["w1", "w2"], timeout=60, interval=0.1)
        # Its pod was added, then scheduled (a MODIFIED event).
        poll(lambda: {s.name: s.node for s in watch.sessions()}.get("w2"), timeout=60, interval=0.1)
        k.run("delete", "w1", "--yes")
        poll(lambda: [s.name for s in watch.sessions()] == ["w2"], timeout=60, interval=0.1)
        assert watch.lists == 2  # one per kind, at the start
        assert watch.error is None
    finally:
        watch.stop()


def etcd_url(testenv: Any) -> str | None:
    """Our plane's etcd (tests/testenv/up writes its port beside the kubeconfig)."""
    ports = Path(testenv.kubeconfig).parent / "ports.env"
    if not testenv.simulated or not ports.exists():
        return None
    values = dict(line.split("=", 1) for line in ports.read_text().split() if "=" in line)
    return f"http://127.0.0.1:{values['ETCD_PORT']}" if "ETCD_PORT" in values else None


def etcd_call(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_a_version_too_old_is_refused_as_expired(kodama: Kodama, testenv: Any) -> None:
    url = etcd_url(testenv)
    if url is None:
        pytest.skip("needs our test plane's etcd, to compact away old resource versions")
    testenv.kubectl(
        "create", "secret", "generic", "old-rv", "-n", kodama.namespace, "--from-literal=a=b"
    )
    # Secrets come from etcd on our plane (no watch cache): compact etcd to its current revision,
    # and resourceVersion 1 is gone.
    revision = etcd_call(url, "/v3/kv/range", {"key": base64.b64encode(b"/").decode()})
    etcd_call(url, "/v3/kv/compaction", {"revision": revision["header"]["revision"]})
    cluster = engine_of(kodama).cluster
    with pytest.raises(WatchExpired):
        for _ in watch_events(cluster, "Secret", "", kodama.namespace, "1", seconds=5):
            pass
