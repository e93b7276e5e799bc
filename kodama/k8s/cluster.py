"""The only module that calls the API server (and the only one importing `kubernetes`, for the
legacy auth-provider kubeconfigs alone): API calls and error translation.

Requests go through kodama.k8s.rest (urllib3 + the API's own JSON): importing the kubernetes
client cost every verb most of a second of start-up (bench/README.md).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kodama.errors import (
    ClusterError,
    Forbidden,
    KodamaError,
    NotFound,
    Timeout,
)
from kodama.events import CancelToken
from kodama.k8s import kubeconfig
from kodama.k8s.rest import ApiError, Follower, Rest
from kodama.k8s.rest import translate as translate
from kodama.k8s.target import KubeTarget as KubeTarget
from kodama.k8s.target import check_context, kubeconfig_path
from kodama.k8s.target import context_namespace as context_namespace

PLURALS = {"Pod": "pods", "PersistentVolumeClaim": "persistentvolumeclaims", "Secret": "secrets"}


def _client_credentials(path: str, context: str | None) -> kubeconfig.Credentials:
    """An auth-provider user (oidc, gcp, azure): the kubernetes client resolves the token."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        cfg = config.new_client_from_config(config_file=path, context=context).configuration
    except ConfigException as exc:
        raise ClusterError(f"invalid kubeconfig {path}: {exc}") from None
    import ssl

    def factory() -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        if cfg.cert_file and cfg.key_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    token = (cfg.api_key or {}).get("authorization", "")
    return kubeconfig.Credentials(
        server=cfg.host,
        ssl_factory=factory if cfg.host.startswith("https://") else None,
        insecure=not cfg.verify_ssl,
        server_hostname=cfg.tls_server_name or None,
        token=token.removeprefix("Bearer ").strip() or None,
    )


def _path(namespace: str | None, plural: str, name: str | None = None, sub: str = "") -> str:
    out = "/api/v1" + (f"/namespaces/{quote(namespace, safe='')}" if namespace else "")
    out += f"/{plural}"
    if name is not None:
        out += f"/{quote(name, safe='')}"
    return out + (f"/{sub}" if sub else "")


class Cluster:
    """Thin typed access to the objects Kodama manages."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target
        path = kubeconfig_path(target)
        if not Path(path).is_file() and not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise ClusterError(
                f"no kubeconfig at {path}", hint="pass --kubeconfig or set KUBECONFIG"
            )
        if Path(path).is_file() and target.context:
            check_context(path, target.context)
        if Path(path).is_file():
            try:
                creds = kubeconfig.from_kubeconfig(path, target.context)
            except kubeconfig.NeedsClientLoader:
                creds = _client_credentials(path, target.context)
        else:
            creds = kubeconfig.in_cluster()
        self.rest = Rest(creds)
        self.host = creds.server
        self.context, ctx_ns = context_namespace(target)
        self.namespace = target.namespace or ctx_ns or "default"

    # -- plumbing -----------------------------------------------------------------------------

    def _call(self, action: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.rest.request(method, path, **kwargs)
        except Exception as exc:
            raise translate(exc, action) from exc

    def _maybe(self, action: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self._call(action, method, path, **kwargs)
        except NotFound:
            return None

    # -- generic create/delete ----------------------------------------------------------------

    def create(self, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Create an object; `dry_run` runs admission (Pod Security, quota) and stores nothing."""
        plural = PLURALS[body["kind"]]
        ns = body["metadata"]["namespace"]
        query = {"dryRun": "All"} if dry_run else None
        obj: dict[str, Any] = self._call(
            f"create {plural} in namespace {ns}",
            "POST",
            _path(ns, plural),
            query=query,
            body=body,
        )
        return obj

    def delete(self, kind: str, name: str, namespace: str, grace: int | None = None) -> bool:
        """Delete if present; True when something was deleted."""
        plural = PLURALS[kind]
        query = {"gracePeriodSeconds": grace} if grace is not None else None
        return (
            self._maybe(
                f"delete {plural} in namespace {namespace}",
                "DELETE",
                _path(namespace, plural, name),
                query=query,
            )
            is not None
        )

    # -- reads --------------------------------------------------------------------------------

    def get_pod(self, name: str, namespace: str) -> dict[str, Any] | None:
        obj: dict[str, Any] | None = self._maybe(
            f"get pods in namespace {namespace}", "GET", _path(namespace, "pods", name)
        )
        return obj

    def secret_exists(self, name: str, namespace: str) -> bool:
        """By name (Kodama's Role has no `list` on Secrets); the values are not kept."""
        obj = self._maybe(
            f"get secrets in namespace {namespace}", "GET", _path(namespace, "secrets", name)
        )
        return obj is not None

    def get_pvc(self, name: str, namespace: str) -> dict[str, Any] | None:
        obj: dict[str, Any] | None = self._maybe(
            f"get persistentvolumeclaims in namespace {namespace}",
            "GET",
            _path(namespace, "persistentvolumeclaims", name),
        )
        return obj

    def namespace_exists(self, namespace: str) -> bool | None:
        """None when we may not look (a namespaced Role cannot read namespaces)."""
        try:
            self._call(f"get namespaces {namespace}", "GET", _path(None, "namespaces", namespace))
        except NotFound:
            return False
        except KodamaError:
            return None
        return True

    def list_objects(self, kind: str, selector: str, namespace: str | None) -> list[dict[str, Any]]:
        """One label-selector list call; namespace None means all namespaces."""
        return self.list_versioned(kind, selector, namespace)[0]

    def list_versioned(
        self, kind: str, selector: str, namespace: str | None
    ) -> tuple[list[dict[str, Any]], str]:
        """One label-selector list and its resourceVersion (where a watch of it resumes)."""
        plural = PLURALS[kind]
        where = "in all namespaces" if namespace is None else f"in namespace {namespace}"
        res = self._call(
            f"list {plural} {where}",
            "GET",
            _path(namespace, plural),
            query={"labelSelector": selector},
        )
        items: list[dict[str, Any]] = res.get("items") or []
        return items, str((res.get("metadata") or {}).get("resourceVersion"))

    def open_watch(
        self, kind: str, selector: str, namespace: str | None, resource_version: str, seconds: int
    ) -> Any:
        """The raw streaming response of a watch from `resource_version` (kodama.k8s.watching
        reads it); the server ends it after about `seconds`. 410 Gone raises WatchExpired."""
        from kodama.k8s.watching import WatchExpired

        plural = PLURALS[kind]
        where = "in all namespaces" if namespace is None else f"in namespace {namespace}"
        query = {
            "labelSelector": selector,
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(seconds),
        }
        try:
            return self.rest.watch(_path(namespace, plural), query, read_timeout=seconds + 30)
        except ApiError as exc:
            if exc.status == 410:
                raise WatchExpired(
                    f"resourceVersion {resource_version} of {plural} expired"
                ) from exc
            raise translate(exc, f"watch {plural} {where}") from exc
        except Exception as exc:
            raise translate(exc, f"watch {plural} {where}") from exc

    def events_for(self, name: str, namespace: str, limit: int = 10) -> list[dict[str, Any]]:
        try:
            res = self._call(
                f"list events in namespace {namespace}",
                "GET",
                _path(namespace, "events"),
                query={"fieldSelector": f"involvedObject.name={name}"},
            )
        except Forbidden:
            return []
        items: list[dict[str, Any]] = res.get("items") or []
        items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return items[-limit:]

    def patch_annotations(
        self, kind: str, name: str, namespace: str, annotations: dict[str, str | None]
    ) -> dict[str, Any]:
        """The object as it is after the patch."""
        body = {"metadata": {"annotations": annotations}}
        if kind != "PersistentVolumeClaim":  # pragma: no cover
            raise ValueError(kind)
        obj: dict[str, Any] = self._call(
            f"patch persistentvolumeclaims in namespace {namespace}",
            "PATCH",
            _path(namespace, "persistentvolumeclaims", name),
            body=body,
            content_type="application/strategic-merge-patch+json",
        )
        return obj

    # -- waits --------------------------------------------------------------------------------

    def wait_pod(
        self,
        name: str,
        namespace: str,
        timeout: float,
        cancel: CancelToken,
        done: Callable[[dict[str, Any] | None], bool],
        on_poll: Callable[[dict[str, Any] | None], None] | None = None,
    ) -> dict[str, Any] | None:
        """Follow a pod until `done(pod)` (None once it is gone); raise Timeout. Cancellable.

        A watch, as `kubectl wait` does: polling noticed Ready up to a second late. `done` is
        asked again at least every second without news, since it judges how long a problem
        lasted."""
        end = time.monotonic() + timeout
        pod, rv = self._pod_and_version(name, namespace)
        if on_poll:
            on_poll(pod)
        if done(pod):
            return pod
        news: queue.Queue[tuple[str, Any]] = queue.Queue()
        follower = Follower(
            self.rest,
            _path(namespace, "pods"),
            f"metadata.name={name}",
            rv,
            news,
            relist=lambda: self._pod_and_version(name, namespace),
            translate=lambda exc: translate(exc, f"watch pods in namespace {namespace}"),
        )
        follower.start()
        try:
            asked = time.monotonic()
            while True:
                cancel.check()
                left = end - time.monotonic()
                if left <= 0:
                    raise Timeout(f"timed out after {timeout:g}s waiting for pod {name}")
                try:
                    kind, obj = news.get(timeout=min(0.1, left))  # short: Ctrl-C stays quick
                except queue.Empty:
                    if time.monotonic() - asked < 1.0:
                        continue
                else:
                    if kind == "error" and isinstance(obj, Forbidden):
                        # A Role without `watch` on pods (Kodama's own Role has none): poll.
                        return self._poll_pod(name, namespace, end, timeout, cancel, done, on_poll)
                    if kind == "error":
                        raise obj
                    pod = None if kind == "DELETED" else obj
                asked = time.monotonic()
                if on_poll:
                    on_poll(pod)
                if done(pod):
                    return pod
        finally:
            follower.stop()

    def _poll_pod(
        self,
        name: str,
        namespace: str,
        end: float,
        timeout: float,
        cancel: CancelToken,
        done: Callable[[dict[str, Any] | None], bool],
        on_poll: Callable[[dict[str, Any] | None], None] | None,
    ) -> dict[str, Any] | None:
        delay = 0.1
        while True:
            cancel.check()
            pod = self.get_pod(name, namespace)
            if on_poll:
                on_poll(pod)
            if done(pod):
                return pod
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout(f"timed out after {timeout:g}s waiting for pod {name}")
            cancel.sleep(min(delay, max(left, 0.01)))
            delay = min(delay * 1.5, 1.0)

    def _pod_and_version(self, name: str, namespace: str) -> tuple[dict[str, Any] | None, str]:
        res = self._call(
            f"list pods in namespace {namespace}",
            "GET",
            _path(namespace, "pods"),
            query={"fieldSelector": f"metadata.name={name}"},
        )
        items = res.get("items") or []
        return (items[0] if items else None), str(
            (res.get("metadata") or {}).get("resourceVersion")
        )

    def exec_output(
        self, pod: str, namespace: str, container: str, command: list[str], timeout: float = 20
    ) -> str:
        """Run a short command in a pod through the API's exec (no kubectl process) and return
        its stdout. For cheap reads done many times at once (list's agent states): about 20 ms
        instead of 120 ms for a `kubectl exec`. The exit code is not available here.
        """
        try:
            return self.rest.exec_stdout(
                _path(namespace, "pods", pod, "exec"), command, container, timeout
            )
        except Exception as exc:
            raise translate(exc, f"exec into pods in namespace {namespace}") from exc

    # -- what `doctor` asks -------------------------------------------------------------------

    def server_version(self) -> str:
        return str(self._call("get the server version", "GET", "/version").get("gitVersion"))

    def can_i(self, verb: str, resource: str, namespace: str) -> tuple[bool, str]:
        """SelfSubjectAccessReview (creates nothing); `resource` may be `pods/exec`."""
        res, _, sub = resource.partition("/")
        attrs: dict[str, Any] = {"namespace": namespace, "verb": verb, "resource": res}
        attrs["group"] = ""
        if sub:
            attrs["subresource"] = sub
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        out = self._call(
            "create selfsubjectaccessreviews",
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body=body,
        )
        status = out.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """The namespace's labels; None when it does not exist. Forbidden is raised."""
        obj = self._maybe(
            f"get namespaces/{namespace}", "GET", _path(None, "namespaces", namespace)
        )
        return None if obj is None else dict((obj.get("metadata") or {}).get("labels") or {})

    def storage_classes(self) -> list[dict[str, Any]]:
        res = self._call("list storageclasses", "GET", "/apis/storage.k8s.io/v1/storageclasses")
        items: list[dict[str, Any]] = res.get("items") or []
        return items
