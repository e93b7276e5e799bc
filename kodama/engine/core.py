"""The engine's shared plumbing: its target cluster, config, namespace, store and kubectl.

Every part of the engine (lifecycle, reads, sync, deletion) is a mixin over EngineBase, so all of
them use the same Store and the same Cluster; SessionEngine (kodama.engine) puts them together.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kodama.errors import KodamaError, NotFound
from kodama.k8s import manifests
from kodama.k8s.cluster import Cluster, KubeTarget, context_namespace
from kodama.store import Store
from kodama.validation import validate_session_name

# `list` runs on this base and the reads alone: what it needs only once a session exists (the
# spec check and its pydantic models), or never (config files, kubectl), is imported where used.
if TYPE_CHECKING:
    from kodama.config import LoadedConfig
    from kodama.k8s.kubectl import Kubectl
    from kodama.k8s.runtime import PodContext
    from kodama.models import SessionSpec, StartRequest
    from kodama.plan import StartPlan


def not_found(name: str, ns: str) -> NotFound:
    return NotFound(
        f"session {name!r} not found in namespace {ns}",
        hint="pass -n NAMESPACE if it lives elsewhere; `kubectl kodama list -A` lists every namespace",
    )


class EngineBase:
    def __init__(
        self,
        target: KubeTarget | None = None,
        *,
        cwd: Path | None = None,
        store: Store | None = None,
        cluster_factory: Callable[[KubeTarget], Cluster] = Cluster,
    ) -> None:
        self.target = target or KubeTarget()
        self.cwd = (cwd or Path.cwd()).resolve()
        self.store = store or Store()
        self._cluster: Cluster | None = None
        self._cluster_factory = cluster_factory
        self._loaded: LoadedConfig | None = None

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self._cluster_factory(self._resolved_target())
        return self._cluster

    def config(self, flags: dict[str, Any] | None = None) -> LoadedConfig:
        from kodama.config import load_config

        if flags:
            return load_config(self.cwd, flags)
        if self._loaded is None:
            self._loaded = load_config(self.cwd)
        return self._loaded

    def namespace(self) -> str:
        """-n flag > kubeconfig context's namespace > config file > "default"."""
        if self.target.namespace:
            return self.target.namespace
        _, ctx_ns = context_namespace(self.target)
        return ctx_ns or self.config().config.namespace or "default"

    def _resolved_target(self) -> KubeTarget:
        return KubeTarget(self.target.kubeconfig, self.target.context, self.namespace())

    def kubectl(self, namespace: str | None = None) -> Kubectl:
        from kodama.k8s.kubectl import Kubectl

        context = self.target.context
        return Kubectl(namespace or self.namespace(), self.target.kubeconfig, context)

    def pod_context(self, spec: SessionSpec, local_path: Path | None = None) -> PodContext:
        from kodama.k8s.runtime import PodContext

        return PodContext(
            self.kubectl(spec.namespace), manifests.pod_name(spec.name), spec, local_path
        )

    def plan_start(self, req: StartRequest) -> StartPlan:
        """Validate a request and decide every object, before any API call."""
        from kodama import plan  # start's alone (git, dotenv): other verbs skip importing it

        return plan.build(req, config=self.config, namespace=self.namespace(), cwd=self.cwd)

    def spec_of(
        self, name: str, namespace: str | None = None
    ) -> tuple[SessionSpec, dict[str, Any]]:
        from kodama.k8s.spec_check import spec_from_pvc

        ns = namespace or self.namespace()
        validate_session_name(name)
        pvc = self.cluster.get_pvc(manifests.workspace_pvc_name(name), ns)
        if pvc is None:
            raise not_found(name, ns)
        return spec_from_pvc(pvc), pvc

    def running_spec(self, name: str, why: str = "") -> SessionSpec:
        """The spec of a session whose pod is Ready, else a clear "not running" error."""
        spec, _ = self.spec_of(name)
        self.require_running(spec, why)
        return spec

    def require_running(self, spec: SessionSpec, why: str = "") -> None:
        """A clear "not running" error unless the session's pod is Ready."""
        from kodama.k8s.status import pod_ready

        if not pod_ready(self.cluster.get_pod(manifests.pod_name(spec.name), spec.namespace)):
            raise KodamaError(
                f"session {spec.name} is not running{why}",
                hint=f"`kubectl kodama resume {spec.name}` starts it again",
            )

    def recorded_local(self, namespace: str, name: str) -> Path | None:
        """The local checkout this machine recorded for the session, if any."""
        path = (self.store.read(namespace, name) or {}).get("localPath")
        return Path(path) if path else None

    def _record(self, spec: SessionSpec, local_path: Path | None) -> dict[str, Any]:
        return {
            "name": spec.name,
            "namespace": spec.namespace,
            "kubeconfig": self.target.kubeconfig,
            "context": self.target.context,
            "localPath": str(local_path) if local_path else None,
        }
