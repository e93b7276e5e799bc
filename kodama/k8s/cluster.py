"""The only module that imports `kubernetes`: API calls and error translation."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from kodama.errors import (
    AlreadyExists,
    ClusterError,
    Forbidden,
    InvalidInput,
    KodamaError,
    NotFound,
    Timeout,
)
from kodama.events import CancelToken

# A kubeconfig with insecure-skip-tls-verify is the user's explicit choice; kubectl honours it
# silently, while urllib3 would print a multi-line warning on every request.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

T = TypeVar("T")
TIMEOUT = (5, 60)  # (connect, read) seconds for every API call


@dataclass(frozen=True)
class KubeTarget:
    """Where to talk: the same flags kubectl takes."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def _kubeconfig_path(target: KubeTarget) -> str:
    if target.kubeconfig:
        return os.path.expanduser(target.kubeconfig)
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


def context_namespace(target: KubeTarget) -> tuple[str | None, str | None]:
    """(context name, its namespace) from the kubeconfig, without building a client."""
    path = _kubeconfig_path(target)
    if not Path(path).is_file():
        return target.context, None
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError):
        return target.context, None
    chosen = None
    if target.context:
        chosen = next((c for c in contexts if c.get("name") == target.context), None)
    else:
        chosen = active
    if not chosen:
        return target.context, None
    return chosen.get("name"), (chosen.get("context") or {}).get("namespace")


def _check_context(path: str, context: str) -> None:
    """The client says "Invalid kube-config file. Expected object with name …" for a context
    that is not there, which blames the file: name the context and the ones that exist."""
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError):
        return  # a broken file gets the client's own message below
    names = [str(c.get("name")) for c in contexts or []]
    if context not in names:
        have = f"its contexts: {', '.join(names)}" if names else "it has no contexts"
        raise ClusterError(
            f"context {context!r} does not exist in kubeconfig {path} ({have})",
            hint="`kubectl config get-contexts` lists them",
        )


def translate(exc: Exception, action: str) -> KodamaError:
    """Turn client exceptions into one-line KodamaErrors. `action` like 'create pods'."""
    if isinstance(exc, KodamaError):
        return exc
    if isinstance(exc, ApiException):
        message = ""
        reason = exc.reason or ""
        try:
            body = json.loads(exc.body or "{}")
            message = body.get("message", "") or ""
        except (ValueError, TypeError):
            message = (exc.body or "").strip() if isinstance(exc.body, str) else ""
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
        if exc.status == 0 or exc.status is None:
            return ClusterError(f"cannot reach the cluster: {reason or exc}")
        return ClusterError(f"cannot {action}: {message or reason} (HTTP {exc.status})")
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        text = str(exc)
        if "Max retries" in text or "Connection refused" in text or "timed out" in text.lower():
            text = "connection refused or timed out"
        return ClusterError(
            f"cannot reach the cluster: {text}", hint="check --kubeconfig/--context"
        )
    return ClusterError(f"cannot {action}: {exc}")


class Cluster:
    """Thin typed access to the objects Kodama manages."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target
        path = _kubeconfig_path(target)
        if not Path(path).is_file() and not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise ClusterError(
                f"no kubeconfig at {path}", hint="pass --kubeconfig or set KUBECONFIG"
            )
        if Path(path).is_file() and target.context:
            _check_context(path, target.context)
        try:
            if Path(path).is_file():
                api_client = config.new_client_from_config(config_file=path, context=target.context)
            else:
                config.load_incluster_config()
                api_client = client.ApiClient()
        except ConfigException as exc:
            raise ClusterError(f"invalid kubeconfig {path}: {exc}") from None
        # Fail fast when the API server is unreachable instead of retrying for minutes.
        api_client.configuration.retries = 1
        self.api = client.CoreV1Api(api_client)
        self.host = api_client.configuration.host
        self.context, ctx_ns = context_namespace(target)
        self.namespace = target.namespace or ctx_ns or "default"

    # -- plumbing -----------------------------------------------------------------------------

    def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, _request_timeout=TIMEOUT, **kwargs)
        except Exception as exc:
            raise translate(exc, action) from exc

    def _maybe(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return self._call(action, fn, *args, **kwargs)
        except NotFound:
            return None

    # -- generic create/delete ----------------------------------------------------------------

    def create(self, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Create an object; `dry_run` runs admission (Pod Security, quota) and stores nothing."""
        kind = body["kind"]
        ns = body["metadata"]["namespace"]
        fn: Callable[..., Any] = {
            "Pod": self.api.create_namespaced_pod,
            "PersistentVolumeClaim": self.api.create_namespaced_persistent_volume_claim,
            "Secret": self.api.create_namespaced_secret,
        }[kind]
        plural = {
            "Pod": "pods",
            "PersistentVolumeClaim": "persistentvolumeclaims",
            "Secret": "secrets",
        }[kind]
        extra = {"dry_run": "All"} if dry_run else {}
        obj = self._call(f"create {plural} in namespace {ns}", fn, ns, body, **extra)
        return self.to_dict(obj)

    def delete(self, kind: str, name: str, namespace: str, grace: int | None = None) -> bool:
        """Delete if present; True when something was deleted."""
        fn, plural = {
            "Pod": (self.api.delete_namespaced_pod, "pods"),
            "PersistentVolumeClaim": (
                self.api.delete_namespaced_persistent_volume_claim,
                "persistentvolumeclaims",
            ),
            "Secret": (self.api.delete_namespaced_secret, "secrets"),
        }[kind]
        kwargs: dict[str, Any] = {}
        if grace is not None:
            kwargs["grace_period_seconds"] = grace
        return (
            self._maybe(f"delete {plural} in namespace {namespace}", fn, name, namespace, **kwargs)
            is not None
        )

    @staticmethod
    def to_dict(obj: Any) -> dict[str, Any]:
        if isinstance(obj, dict):
            return obj
        result: dict[str, Any] = client.ApiClient().sanitize_for_serialization(obj)
        return result

    # -- reads --------------------------------------------------------------------------------

    def get_pod(self, name: str, namespace: str) -> dict[str, Any] | None:
        obj = self._maybe(
            f"get pods in namespace {namespace}", self.api.read_namespaced_pod, name, namespace
        )
        return None if obj is None else self.to_dict(obj)

    def secret_exists(self, name: str, namespace: str) -> bool:
        """By name (Kodama's Role has no `list` on Secrets); the values are not kept."""
        obj = self._maybe(
            f"get secrets in namespace {namespace}",
            self.api.read_namespaced_secret,
            name,
            namespace,
        )
        return obj is not None

    def get_pvc(self, name: str, namespace: str) -> dict[str, Any] | None:
        obj = self._maybe(
            f"get persistentvolumeclaims in namespace {namespace}",
            self.api.read_namespaced_persistent_volume_claim,
            name,
            namespace,
        )
        return None if obj is None else self.to_dict(obj)

    def namespace_exists(self, namespace: str) -> bool | None:
        """None when we may not look (a namespaced Role cannot read namespaces)."""
        try:
            self._call(f"get namespaces {namespace}", self.api.read_namespace, namespace)
        except NotFound:
            return False
        except KodamaError:
            return None
        return True

    def list_objects(self, kind: str, selector: str, namespace: str | None) -> list[dict[str, Any]]:
        """One label-selector list call; namespace None means all namespaces."""
        fn_ns: Callable[..., Any]
        fn_all: Callable[..., Any]
        fn_ns, fn_all, plural = {
            "Pod": (self.api.list_namespaced_pod, self.api.list_pod_for_all_namespaces, "pods"),
            "PersistentVolumeClaim": (
                self.api.list_namespaced_persistent_volume_claim,
                self.api.list_persistent_volume_claim_for_all_namespaces,
                "persistentvolumeclaims",
            ),
        }[kind]
        # Raw JSON: turning every item into client models and back to dicts cost ~8 ms per
        # session in `list` (bench/README.md); the API's own dicts are what callers want.
        if namespace is None:
            res = self._call(
                f"list {plural} in all namespaces",
                fn_all,
                label_selector=selector,
                _preload_content=False,
            )
        else:
            res = self._call(
                f"list {plural} in namespace {namespace}",
                fn_ns,
                namespace,
                label_selector=selector,
                _preload_content=False,
            )
        items: list[dict[str, Any]] = json.loads(res.data).get("items") or []
        return items

    def _list_fns(self, kind: str) -> tuple[Callable[..., Any], Callable[..., Any], str]:
        return {
            "Pod": (self.api.list_namespaced_pod, self.api.list_pod_for_all_namespaces, "pods"),
            "PersistentVolumeClaim": (
                self.api.list_namespaced_persistent_volume_claim,
                self.api.list_persistent_volume_claim_for_all_namespaces,
                "persistentvolumeclaims",
            ),
        }[kind]

    def list_versioned(
        self, kind: str, selector: str, namespace: str | None
    ) -> tuple[list[dict[str, Any]], str]:
        """One label-selector list and its resourceVersion (where a watch of it resumes)."""
        fn_ns, fn_all, plural = self._list_fns(kind)
        where = "all namespaces" if namespace is None else f"namespace {namespace}"
        args = () if namespace is None else (namespace,)
        fn = fn_all if namespace is None else fn_ns
        res = self._call(
            f"list {plural} in {where}", fn, *args, label_selector=selector, _preload_content=False
        )
        body = json.loads(res.data)
        return body.get("items") or [], str((body.get("metadata") or {}).get("resourceVersion"))

    def open_watch(
        self, kind: str, selector: str, namespace: str | None, resource_version: str, seconds: int
    ) -> Any:
        """The raw streaming response of a watch from `resource_version` (kodama.k8s.watching
        reads it); the server ends it after about `seconds`. 410 Gone raises WatchExpired."""
        from kodama.k8s.watching import WatchExpired

        fn_ns, fn_all, plural = self._list_fns(kind)
        where = "all namespaces" if namespace is None else f"namespace {namespace}"
        args = () if namespace is None else (namespace,)
        try:
            # Raw lines, as list_objects: the client's Watch would build models of every object.
            return (fn_all if namespace is None else fn_ns)(
                *args,
                label_selector=selector,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                _preload_content=False,
                _request_timeout=(TIMEOUT[0], seconds + 30),
            )
        except ApiException as exc:
            if exc.status == 410:
                raise WatchExpired(
                    f"resourceVersion {resource_version} of {plural} expired"
                ) from exc
            raise translate(exc, f"watch {plural} in {where}") from exc
        except Exception as exc:
            raise translate(exc, f"watch {plural} in {where}") from exc

    def events_for(self, name: str, namespace: str, limit: int = 10) -> list[dict[str, Any]]:
        try:
            res = self._call(
                f"list events in namespace {namespace}",
                self.api.list_namespaced_event,
                namespace,
                field_selector=f"involvedObject.name={name}",
            )
        except Forbidden:
            return []
        items = [self.to_dict(i) for i in res.items]
        items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return items[-limit:]

    def patch_annotations(
        self, kind: str, name: str, namespace: str, annotations: dict[str, str | None]
    ) -> None:
        body = {"metadata": {"annotations": annotations}}
        if kind != "PersistentVolumeClaim":  # pragma: no cover
            raise ValueError(kind)
        self._call(
            f"patch persistentvolumeclaims in namespace {namespace}",
            self.api.patch_namespaced_persistent_volume_claim,
            name,
            namespace,
            body,
        )

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
        """Poll a pod until `done(pod)`; raise Timeout. Cancellable between polls."""
        delay = 0.1
        end = time.monotonic() + timeout
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

    def exec_output(
        self, pod: str, namespace: str, container: str, command: list[str], timeout: float = 20
    ) -> str:
        """Run a short command in a pod through the API's exec (no kubectl process) and return
        its stdout. For cheap reads done many times at once (list's agent states): about 20 ms
        instead of 120 ms for a `kubectl exec`. The exit code is not available here.
        """
        from kubernetes.stream import stream

        # stream() patches the ApiClient it is given while it runs: one client per call keeps
        # concurrent calls apart.
        api = client.CoreV1Api(client.ApiClient(self.api.api_client.configuration))
        try:
            out = stream(
                api.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=command,
                stderr=False,
                stdin=False,
                stdout=True,
                tty=False,
                _request_timeout=timeout,
            )
        except Exception as exc:
            raise translate(exc, f"exec into pods in namespace {namespace}") from exc
        return str(out)

    # -- what `doctor` asks -------------------------------------------------------------------

    def server_version(self) -> str:
        api = client.VersionApi(self.api.api_client)
        return str(self._call("get the server version", api.get_code).git_version)

    def can_i(self, verb: str, resource: str, namespace: str) -> tuple[bool, str]:
        """SelfSubjectAccessReview (creates nothing); `resource` may be `pods/exec`."""
        res, _, sub = resource.partition("/")
        attrs = client.V1ResourceAttributes(
            namespace=namespace, verb=verb, resource=res, subresource=sub or None, group=""
        )
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)
        )
        api = client.AuthorizationV1Api(self.api.api_client)
        out = self._call(
            "create selfsubjectaccessreviews", api.create_self_subject_access_review, body
        )
        return bool(out.status.allowed), str(out.status.reason or "")

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """The namespace's labels; None when it does not exist. Forbidden is raised."""
        obj = self._maybe(f"get namespaces/{namespace}", self.api.read_namespace, namespace)
        return None if obj is None else dict(obj.metadata.labels or {})

    def storage_classes(self) -> list[dict[str, Any]]:
        api = client.StorageV1Api(self.api.api_client)
        res = self._call("list storageclasses", api.list_storage_class, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(res.data).get("items") or []
        return items
