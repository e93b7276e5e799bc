"""The engine facade: start, list, get, stop, resume, delete. Both front ends call this.

Never prints; reports progress through an EventSink; honours a CancelToken.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import agent, fanout, git, manifests, plan, sync, usage
from . import store as store_mod
from .agent_state import parse_status
from .cluster import Cluster, KubeTarget, context_namespace
from .config import LoadedConfig, load_config
from .errors import (
    AgentLaunchFailed,
    AlreadyExists,
    Cancelled,
    Forbidden,
    ImagePullFailed,
    InvalidInput,
    KodamaError,
    NeedsConfirmation,
    NotFound,
    Timeout,
)
from .events import CancelToken, EventSink, Reporter, null_sink
from .kubectl import Kubectl
from .manifests import (
    PHASE_ANNOTATION,
    SELECTOR,
    SESSION_LABEL,
)
from .models import (
    AgentState,
    AgentStateName,
    FetchResult,
    Session,
    SessionSpec,
    StartRequest,
    Status,
)
from .plan import StartPlan
from .runtime import PodContext
from .spec_check import spec_from_pvc
from .status import (
    crash_loop,
    current_events,
    derive,
    finished_at,
    image_pull_problem,
    pod_ended,
    pod_problem,
    pod_ready,
    unschedulable,
)
from .store import Store
from .validation import (
    validate_session_name,
)

WARN_AFTER = 5.0  # seconds a start-up problem must last before it is reported
# A pull error that is not plainly hopeless gets this long (the kubelet retries) before start
# gives up; a first error shows 2-15 s after the pod is created, so start fails within a minute.
PULL_GRACE = 20.0
DELETE_WAIT = 60.0  # seconds delete/rollback wait for the objects to be gone
# Events of a claim that only waits for its pod to be scheduled (WaitForFirstConsumer binding).
_WAITS_FOR_POD = ("WaitForFirstConsumer", "WaitForPodScheduled")
# Everything a session owns, in deletion order (the pod before what it mounts).
SESSION_KINDS = ("Pod", "Secret", "PersistentVolumeClaim")


def _not_found(name: str, ns: str) -> NotFound:
    return NotFound(
        f"session {name!r} not found in namespace {ns}",
        hint="pass -n NAMESPACE if it lives elsewhere; `kubectl kodama list -A` lists every namespace",
    )


class SessionEngine:
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

    # -- shared plumbing -----------------------------------------------------------------------

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self._cluster_factory(self._resolved_target())
        return self._cluster

    def config(self, flags: dict[str, Any] | None = None) -> LoadedConfig:
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
        context = self.target.context
        return Kubectl(namespace or self.namespace(), self.target.kubeconfig, context)

    def pod_context(self, spec: SessionSpec, local_path: Path | None = None) -> PodContext:
        return PodContext(
            self.kubectl(spec.namespace), manifests.pod_name(spec.name), spec, local_path
        )

    # -- planning (pure apart from reading local files and git) --------------------------------

    def plan_start(self, req: StartRequest) -> StartPlan:
        """Validate a request and decide every object, before any API call."""
        return plan.build(req, config=self.config, namespace=self.namespace(), cwd=self.cwd)

    # -- start ---------------------------------------------------------------------------------

    def start(
        self, req: StartRequest, events: EventSink = null_sink, cancel: CancelToken | None = None
    ) -> Session:
        plan = self.plan_start(req)  # every input error is raised here, before any API call
        self.check_repo_changes(plan, req)
        return self.start_planned(plan, req, events, cancel)

    def check_repo_changes(self, plan: StartPlan, req: StartRequest) -> None:
        """What a repository's .kodama.yaml changes is used only once the user accepted it."""
        unaccepted = [c for c in plan.repo_changes if c not in req.accepted_repo_changes]
        if unaccepted and not req.accept_repo_config:
            raise NeedsConfirmation(
                str(plan.repo_config),
                plan.repo_changes,
                hint="check them, then confirm (or pass --yes)",
            )

    def start_planned(
        self,
        plan: StartPlan,
        req: StartRequest,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> Session:
        """Create what `plan` decided and set the pod up (start after planning; fan-out calls
        it for each of its sessions, from threads)."""
        cancel = cancel or CancelToken()
        spec = plan.spec
        rep = Reporter(events, spec.name)
        cluster = self.cluster
        ns = spec.namespace
        spec = spec.model_copy(update={"created_at": datetime.now(UTC).replace(microsecond=0)})
        rep.step("create", f"Creating session {spec.name} in namespace {ns}")
        created = False
        try:
            try:
                # The workspace PVC is created first and doubles as the lock: of two concurrent
                # starts of the same name exactly one creates it.
                ws_body = manifests.pvc(spec, "workspace")
                assert spec.created_at is not None
                ws_body["metadata"]["annotations"].update(
                    usage.runs_update(None, end=None, start=spec.created_at)
                )
                cluster.create(ws_body)
                created = True
            except AlreadyExists:
                raise self._exists_error(spec.name, ns) from None
            except NotFound:
                raise NotFound(f"namespace {ns!r} not found") from None
            self.store.write(ns, spec.name, self._record(spec, plan.local_path))
            cluster.create(manifests.pvc(spec, "home"))
            for sec in plan.secrets:
                cancel.check()
                cluster.create(sec)
            cancel.check()
            cluster.create(manifests.pod(spec))
            if not req.wait:
                rep.done(f"Session {spec.name} created (not waiting for it to be Ready)")
                return self.get(spec.name)
            timeout = plan.config.timeout
            self._wait_ready(spec, timeout, rep, cancel, starting=True)
            ready: dict[str, str | None] = {PHASE_ANNOTATION: "ready"}
            ws_pvc = manifests.workspace_pvc_name(spec.name)
            try:
                self._ensure_runtime(
                    spec, plan.local_path, rep, cancel, prompt=plan.prompt, first=True
                )
            except AgentLaunchFailed:
                # Everything but the agent is in place: the session is kept (resume after a
                # fix, or delete), not rolled back.
                cluster.patch_annotations("PersistentVolumeClaim", ws_pvc, ns, ready)
                raise
            cluster.patch_annotations("PersistentVolumeClaim", ws_pvc, ns, ready)
        except (Timeout, AgentLaunchFailed):
            raise
        except BaseException as exc:
            failed = self._rollback(spec.name, ns, rep) if created else None
            if cancel.cancelled or isinstance(exc, KeyboardInterrupt | Cancelled):
                # A Ctrl-C also kills kubectl children: report the cancel, not their failure.
                outcome = ""
                if created:
                    outcome = (
                        " and rolled back" if failed is None else f"; rolling back failed: {failed}"
                    )
                raise Cancelled(f"interrupted: start of {spec.name} cancelled{outcome}") from None
            raise
        if plan.sync and plan.local_path is not None:
            self._start_sync(spec, plan.local_path, rep, cancel)
        rep.done(f"Session {spec.name} is Running on branch {spec.branch}")
        return self.get(spec.name)

    def _exists_error(self, name: str, ns: str) -> KodamaError:
        ws = self.cluster.get_pvc(manifests.workspace_pvc_name(name), ns)
        phase = ((ws or {}).get("metadata", {}).get("annotations") or {}).get(PHASE_ANNOTATION)
        if phase == "creating":
            return AlreadyExists(
                f"session {name!r} already exists in namespace {ns} and is still being created",
                hint=f"if an earlier start was interrupted: `kubectl kodama resume {name}` finishes it, "
                f"`kubectl kodama delete {name}` removes it",
            )
        if pod_ready(self.cluster.get_pod(manifests.pod_name(name), ns)):
            return AlreadyExists(
                f"session {name!r} already exists in namespace {ns} and is running",
                hint=f"`kubectl kodama attach {name}` opens it, or pick another name",
            )
        return AlreadyExists(
            f"session {name!r} already exists in namespace {ns}",
            hint=f"use `kubectl kodama resume {name}`, or pick another name",
        )

    def _record(self, spec: SessionSpec, local_path: Path | None) -> dict[str, Any]:
        return {
            "name": spec.name,
            "namespace": spec.namespace,
            "kubeconfig": self.target.kubeconfig,
            "context": self.target.context,
            "localPath": str(local_path) if local_path else None,
        }

    def _rollback(self, name: str, ns: str, rep: Reporter) -> str | None:
        """Undo a start that did not finish. Runs even after a cancel (no token).

        Returns None once everything is gone, else why it is not (said as a warning too)."""
        rep.info(f"Rolling back session {name}")
        try:
            self._delete_objects(name, ns, keep_data=False)
        except KodamaError as exc:
            rep.warn(
                f"rolling back {name} failed: {exc.message}; what is left: "
                f"`kubectl kodama get {name}`, removed by `kubectl kodama delete {name}`"
            )
            return exc.message
        self.store.remove(ns, name)
        return None

    def _wait_ready(
        self,
        spec: SessionSpec,
        timeout: float,
        rep: Reporter,
        cancel: CancelToken,
        *,
        starting: bool = False,
    ) -> dict[str, Any]:
        rep.step("wait", f"Waiting for pod {manifests.pod_name(spec.name)} to be Ready")
        unschedulable_hint = (
            "ask for less (--cpu, --memory, --resource) or other nodes (--node-selector, "
            "--toleration), or get capacity added"
            if starting
            else f"free capacity, or `kubectl kodama stop {spec.name}`"
        )
        warned: set[str] = set()
        first_seen: dict[str, float] = {}

        def done(pod: dict[str, Any] | None) -> bool:
            if pod is None:
                raise KodamaError(f"pod {manifests.pod_name(spec.name)} disappeared while starting")
            if pod_ready(pod):
                return True
            fatal, reason = pod_problem(pod)
            if fatal:
                raise KodamaError(f"pod {manifests.pod_name(spec.name)} cannot start: {reason}")
            crash = crash_loop(pod)
            if crash:
                # Kubelet backs off after the container failed twice: it will not come up alone.
                raise KodamaError(f"pod {manifests.pod_name(spec.name)} cannot start: {crash}")
            pull = image_pull_problem(pod)
            if pull is not None:
                image, why, hopeless = pull
                since = first_seen.setdefault(f"pull {image}", time.monotonic())
                if hopeless or time.monotonic() - since >= PULL_GRACE:
                    raise ImagePullFailed(
                        f"cannot pull image {image} ({why})",
                        hint="`kubectl kodama image build --push REGISTRY/kodama-agent:TAG` "
                        "builds the agent image (images/agent/Dockerfile), pushes it where the "
                        "cluster can pull it and records it as `image:` in ~/.kodama/config.yaml "
                        "(or pass --image)",
                    )
            cause = unschedulable(pod)
            # A short grace absorbs a verdict taken while capacity was being freed (a pod of
            # a deleted session still terminating); an autoscaler that is adding a node wins.
            lasted = cause and time.monotonic() - first_seen.setdefault(cause, time.monotonic())
            if cause and lasted and lasted >= WARN_AFTER and not self._scaling_up(pod):
                raise KodamaError(
                    f"session {spec.name} cannot be scheduled: {cause}", hint=unschedulable_hint
                )
            # Some problems are normal for a moment (PVCs binding, an image being pulled):
            # say so only when one lasts.
            if reason and reason not in warned:
                seen = first_seen.setdefault(reason, time.monotonic())
                if time.monotonic() - seen >= WARN_AFTER:
                    warned.add(reason)
                    rep.warn(reason)
            return False

        try:
            pod = self.cluster.wait_pod(
                manifests.pod_name(spec.name), spec.namespace, timeout, cancel, done
            )
        except Timeout:
            why = self._diagnose(spec.name, spec.namespace)
            raise Timeout(
                f"session {spec.name} is not Ready after {timeout:g}s: {why}",
                hint=f"`kubectl kodama get {spec.name}` shows events; `kubectl kodama delete {spec.name}` removes it",
            ) from None
        assert pod is not None
        return pod

    def _scaling_up(self, pod: dict[str, Any]) -> bool:
        """A cluster autoscaler says it is adding a node for this pod."""
        meta = pod.get("metadata") or {}
        events = self.cluster.events_for(meta.get("name", ""), meta.get("namespace", ""))
        return any(e.get("reason") == "TriggeredScaleUp" for e in current_events(events, pod))

    def _diagnose(self, name: str, ns: str) -> str:
        c = self.cluster
        pod = c.get_pod(manifests.pod_name(name), ns)
        for pvc_name in (manifests.workspace_pvc_name(name), manifests.home_pvc_name(name)):
            pvc = c.get_pvc(pvc_name, ns)
            if pvc and (pvc.get("status") or {}).get("phase") == "Pending":
                evs = c.events_for(pvc_name, ns, limit=1)
                if evs and evs[-1].get("reason") in _WAITS_FOR_POD and pod:
                    continue  # WaitForFirstConsumer binding: the pod's scheduling is the cause
                detail = f" ({evs[-1].get('message')})" if evs else ""
                return f"PVC {pvc_name} is Pending{detail}"
        if pod:
            _, reason = pod_problem(pod)
            if reason:
                return reason
            evs = [
                e for e in c.events_for(manifests.pod_name(name), ns) if e.get("type") == "Warning"
            ]
            if evs:
                return f"{evs[-1].get('reason')}: {evs[-1].get('message')}"
            return f"pod phase {(pod.get('status') or {}).get('phase')}"
        return "the pod does not exist"

    def _ensure_runtime(
        self,
        spec: SessionSpec,
        local_path: Path | None,
        rep: Reporter,
        cancel: CancelToken,
        *,
        prompt: str | None = None,
        first: bool = False,
        filled: bool = False,
    ) -> None:
        """The idempotent in-pod step shared by start, resume and attach."""
        ctx = self.pod_context(spec, local_path)
        git.ensure_workspace(ctx, rep, cancel, filled=filled)
        agent.ensure_agent(ctx, rep, cancel, prompt=prompt, resume=not first)

    def _start_sync(
        self, spec: SessionSpec, local_path: Path, rep: Reporter, cancel: CancelToken
    ) -> None:
        if not sync.available():
            rep.info(f"File sync is off: mutagen is not installed; {sync.INSTALL_HINT}")
            return
        try:
            sync.start(self.pod_context(spec, local_path), rep, cancel)
        except KodamaError as exc:
            rep.warn(f"file sync did not start: {exc.message}")

    # -- reading -------------------------------------------------------------------------------

    def spec_of(
        self, name: str, namespace: str | None = None
    ) -> tuple[SessionSpec, dict[str, Any]]:
        ns = namespace or self.namespace()
        validate_session_name(name)
        pvc = self.cluster.get_pvc(manifests.workspace_pvc_name(name), ns)
        if pvc is None:
            raise _not_found(name, ns)
        return self._spec_from_pvc(pvc), pvc

    @staticmethod
    def _spec_from_pvc(pvc: dict[str, Any]) -> SessionSpec:
        return spec_from_pvc(pvc)

    def _session(
        self,
        spec: SessionSpec,
        ws: dict[str, Any] | None,
        home: dict[str, Any] | None,
        pod: dict[str, Any] | None,
    ) -> Session:
        status, reason = derive(ws, home, pod)
        record = self.store.read(spec.namespace, spec.name) or {}
        return Session(
            name=spec.name,
            namespace=spec.namespace,
            context=self.cluster.context,
            status=status,
            reason=reason,
            image=spec.image,
            branch=spec.branch,
            base_branch=spec.base_branch,
            base_commit=spec.base_commit,
            repo=spec.repo,
            local_path=record.get("localPath"),
            created_at=spec.created_at,
            family=spec.family,
            idle_stop=spec.idle_stop,
            pod=(pod or {}).get("metadata", {}).get("name"),
            node=((pod or {}).get("spec") or {}).get("nodeName"),
            pvcs=[p["metadata"]["name"] for p in (ws, home) if p],
        )

    def list_sessions(
        self, all_namespaces: bool = False, *, agent_state: bool = True
    ) -> list[Session]:
        ns = None if all_namespaces else self.namespace()
        c = self.cluster
        try:
            pvcs = c.list_objects("PersistentVolumeClaim", SELECTOR, ns)
        except Forbidden:
            if ns is not None:
                raise
            # The generic hint (`kubectl kodama rbac`) would not help: that Role is per namespace.
            raise Forbidden(
                "forbidden: cannot list sessions in all namespaces "
                "(-A needs list access to PVCs and pods cluster-wide)",
                hint="Kodama's Role is per namespace: `kubectl kodama list -n NAMESPACE`",
            ) from None
        pods = c.list_objects("Pod", SELECTOR, ns)

        def key(obj: dict[str, Any]) -> tuple[str, str]:
            meta = obj["metadata"]
            return meta["namespace"], (meta.get("labels") or {}).get(SESSION_LABEL, "")

        pods_by = {key(p): p for p in pods}
        homes = {key(p): p for p in pvcs if p["metadata"]["name"].endswith("-home")}
        out: list[Session] = []
        specs: dict[tuple[str, str], SessionSpec] = {}
        for ws in pvcs:
            if not ws["metadata"]["name"].endswith("-workspace"):
                continue
            try:
                spec = self._spec_from_pvc(ws)
            except (KodamaError, ValueError):
                continue
            k = key(ws)
            specs[(spec.namespace, spec.name)] = spec
            out.append(self._session(spec, ws, homes.get(k), pods_by.get(k)))
        # A fan-out's sessions sit together, under their family's name.
        out.sort(key=lambda s: (s.namespace, s.family or s.name, s.family is None, s.name))
        if agent_state:
            self._fill_agent_states(out, specs)
        with contextlib.suppress(KodamaError):
            syncing = sync.statuses()
            for s in out:
                s.sync = syncing.get((s.namespace, s.name))
        self._rebuild_records(out, specs)
        return out

    def no_sessions_message(self, all_namespaces: bool = False) -> str:
        """What an empty `list` says: which namespace, and whether it exists at all."""
        if all_namespaces:
            return "No sessions found in any namespace."
        ns = self.namespace()
        if self.cluster.namespace_exists(ns) is False:
            return f"No sessions found: namespace {ns} does not exist."
        return f"No sessions found in namespace {ns} (-A lists every namespace)."

    def _fill_agent_states(
        self, sessions: list[Session], specs: dict[tuple[str, str], SessionSpec] | None = None
    ) -> None:
        """One exec per Running session, in parallel; the specs come from the list already."""
        running = [s for s in sessions if s.status == Status.RUNNING]
        if not running:
            return

        def read(s: Session) -> AgentState:
            try:
                spec = (specs or {}).get((s.namespace, s.name)) or self.spec_of(
                    s.name, s.namespace
                )[0]
                return self._agent_state(spec)
            except KodamaError:
                return AgentState()

        with ThreadPoolExecutor(max_workers=min(8, len(running))) as pool:
            for s, st in zip(running, pool.map(read, running), strict=True):
                s.agent = st

    def _agent_state(self, spec: SessionSpec) -> AgentState:
        """One cheap exec through the API (no kubectl process): list and get call it a lot."""
        out = self.cluster.exec_output(
            manifests.pod_name(spec.name), spec.namespace, manifests.CONTAINER, agent.STATE_COMMAND
        )
        try:
            return parse_status(out, spec.agent_kind)
        except Exception:  # written by the pod: whatever it holds must not break other sessions
            return AgentState(message="the agent state file could not be read")

    def _rebuild_records(
        self, sessions: list[Session], specs: dict[tuple[str, str], SessionSpec]
    ) -> None:
        """The session files follow the cluster: a lost file is written again, a stale one
        refreshed (only when a cluster-derived field changed)."""
        for s in sessions:
            spec = specs.get((s.namespace, s.name))
            if spec is None:
                continue
            fields = store_mod.cluster_fields(spec, s, s.local_path)
            new = {"kubeconfig": self.target.kubeconfig, "context": self.target.context}
            with contextlib.suppress(OSError):
                self.store.refresh(s.namespace, s.name, fields, new)

    def get(self, name: str, *, events: bool = True, details: bool = False) -> Session:
        spec, ws = self.spec_of(name)
        ns = spec.namespace
        c = self.cluster
        home = c.get_pvc(manifests.home_pvc_name(name), ns)
        pod = c.get_pod(manifests.pod_name(name), ns)
        session = self._session(spec, ws, home, pod)
        self._rebuild_records([session], {(ns, name): spec})
        if session.status == Status.RUNNING:
            ctx = self.pod_context(spec)
            with contextlib.suppress(KodamaError):
                session.agent = self._agent_state(spec)
            if details:
                with contextlib.suppress(KodamaError):
                    session.ahead = git.ahead(ctx)
        elif events:
            evs = current_events(c.events_for(manifests.pod_name(name), ns), pod)[-5:]
            if (ws.get("status") or {}).get("phase") != "Bound":  # else provisioning is history
                claim = current_events(c.events_for(manifests.workspace_pvc_name(name), ns), ws)
                if pod is None:  # "waiting for its consumer": that pod is gone
                    claim = [e for e in claim if e.get("reason") not in _WAITS_FOR_POD]
                evs += claim[-2:]
            session.events = [f"{e.get('type')} {e.get('reason')}: {e.get('message')}" for e in evs]
        with contextlib.suppress(KodamaError):
            session.sync = sync.status(ns, name)
        return session

    # -- stop / resume / delete ----------------------------------------------------------------

    def stop(
        self,
        name: str,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
        *,
        wait: bool = True,
    ) -> Session:
        cancel = cancel or CancelToken()
        spec, ws = self.spec_of(name)
        rep = Reporter(events, name)
        with contextlib.suppress(KodamaError):
            sync.stop(spec.namespace, name)
        pod = self.cluster.get_pod(manifests.pod_name(name), spec.namespace)
        self._close_run(spec, ws, pod)
        rep.step("stop", f"Deleting pod {manifests.pod_name(name)} (PVCs are kept)")
        self.cluster.delete("Pod", manifests.pod_name(name), spec.namespace)
        if wait:
            self.cluster.wait_pod(
                manifests.pod_name(name), spec.namespace, 120, cancel, lambda p: p is None
            )
        rep.done(f"Session {name} stopped; `kubectl kodama resume {name}` brings it back")
        return self.get(name, events=False)

    def resume(
        self,
        name: str,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
        *,
        wait: bool = True,
    ) -> Session:
        cancel = cancel or CancelToken()
        spec, ws = self.spec_of(name)
        ns = spec.namespace
        rep = Reporter(events, name)
        c = self.cluster
        pod = c.get_pod(manifests.pod_name(name), ns)
        previous_pod = pod
        ended = pod_ended(pod)
        if ended:
            # The pod ended itself (idle stop): replace it, as after `stop`.
            rep.step("create", f"Replacing pod {manifests.pod_name(name)}, which ended")
            c.delete("Pod", manifests.pod_name(name), ns, grace=0)
        if pod is not None and (ended or pod.get("metadata", {}).get("deletionTimestamp")):
            rep.step("wait", "Waiting for the old pod to go away")
            c.wait_pod(manifests.pod_name(name), ns, 120, cancel, lambda p: p is None)
            pod = None
        if c.get_pvc(manifests.home_pvc_name(name), ns) is None:
            rep.step("create", f"Re-creating the missing home PVC of {name}")
            c.create(manifests.pvc(spec, "home"))
        if pod is None:
            rep.step("create", f"Creating pod {manifests.pod_name(name)} on the session's PVCs")
            # After `delete --keep-data` the Secrets are gone: start without them, and say so.
            held = manifests.secret_contents(spec)
            present = {sec for sec in held if c.secret_exists(sec, ns)}
            pod_spec, lost = manifests.without_missing_secrets(spec, present)
            if lost:
                rep.warn(f"the session's Secrets are gone; starting without: {', '.join(lost)}")
            with contextlib.suppress(AlreadyExists):  # a concurrent resume won: wait for its pod
                c.create(manifests.pod(pod_spec))
                self._open_run(spec, ws, previous_pod)
        if not wait:
            return self.get(name, events=False)
        cfg = self.config().config
        self._wait_ready(spec, cfg.timeout, rep, cancel)
        record = self.store.read(ns, name) or {}
        local = Path(record["localPath"]) if record.get("localPath") else None
        phase = ((ws.get("metadata") or {}).get("annotations") or {}).get(PHASE_ANNOTATION)
        self._ensure_runtime(
            spec, local, rep, cancel, first=phase == "creating", filled=phase == "ready"
        )
        if phase != "ready":
            c.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(name),
                ns,
                {PHASE_ANNOTATION: "ready"},
            )
        if local is not None and record.get("sync"):
            self._start_sync(spec, local, rep, cancel)
        rep.done(f"Session {name} is Running")
        return self.get(name, events=False)

    def _close_run(self, spec: SessionSpec, ws: dict[str, Any], pod: dict[str, Any] | None) -> None:
        """Usage: the run ends now (or when the pod ended); the tokens are read while we can."""
        now = datetime.now(UTC)
        end = usage.parse_time(finished_at(pod)) if pod_ended(pod) else now
        if pod_ready(pod) and spec.agent_kind == "claude":
            with contextlib.suppress(KodamaError):
                usage.remember_tokens(self, spec, now)
        with contextlib.suppress(KodamaError):
            self.cluster.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(spec.name),
                spec.namespace,
                usage.runs_update(ws, end=end if pod is not None else None, start=None),
            )

    def _open_run(
        self, spec: SessionSpec, ws: dict[str, Any], previous: dict[str, Any] | None
    ) -> None:
        end = usage.parse_time(finished_at(previous)) if pod_ended(previous) else None
        with contextlib.suppress(KodamaError):
            self.cluster.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(spec.name),
                spec.namespace,
                usage.runs_update(ws, end=end, start=datetime.now(UTC)),
            )

    def usage(self, name: str | None = None, *, all_namespaces: bool = False) -> list[Any]:
        """Run time, requested resources x time, PVC sizes, tokens and estimated cost."""
        return usage.collect(self, name, all_namespaces=all_namespaces)

    def start_family(
        self,
        req: StartRequest,
        count: int,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> list[Session]:
        """Fan-out: NAME-1..NAME-count from one request, concurrently, rolled back as one."""
        return fanout.start_family(self, req, count, events, cancel or CancelToken())

    def compare(self, family: str) -> list[Any]:
        """Per session of a fan-out: agent state, commits ahead, change against the base."""
        return fanout.compare(self, family)

    def family_diff(self, family: str, session: str) -> str:
        return fanout.diff(self, family, session)

    def delete(
        self,
        name: str,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
        *,
        keep_data: bool = False,
    ) -> None:
        ns = self.namespace()
        validate_session_name(name)
        rep = Reporter(events, name)
        objects = self._session_objects(name, ns, SESSION_KINDS)
        if all(kind == "Secret" for kind, _ in objects):
            for _, secret in objects:  # leftovers of a half-deleted session
                self.cluster.delete("Secret", secret, ns)
            self.store.remove(ns, name)
            raise _not_found(name, ns)
        lost: list[str] = []
        if keep_data:
            with contextlib.suppress(KodamaError):
                held = manifests.secret_contents(self.spec_of(name, ns)[0])
                lost = [item for items in held.values() for item in items]
        with contextlib.suppress(KodamaError):
            sync.stop(ns, name, forget=True)
        rep.step(
            "delete", f"Deleting session {name}" + (" (keeping its PVCs)" if keep_data else "")
        )
        self._delete_objects(name, ns, keep_data=keep_data, objects=objects)
        self.store.remove(ns, name)
        if not keep_data:
            rep.done(f"Session {name} deleted")
            return
        if lost:
            rep.warn(f"deleted with its Secrets, not kept: {', '.join(lost)}")
        rep.done(
            f"Session {name} deleted; its workspace and home are kept: `kubectl kodama resume "
            f"{name}` brings it back" + (" without what its Secrets held" if lost else "")
        )

    def _session_objects(self, name: str, ns: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """(kind, name) of the session's objects: one label-selector list per kind.

        Secrets are not listed (the Role grants no `list` on them): their names are fixed by the
        session name, so they are named here and deleting a missing one is a no-op.
        """
        selector = manifests.session_selector(name)
        found = [
            (kind, obj["metadata"]["name"])
            for kind in kinds
            if kind != "Secret"
            for obj in self.cluster.list_objects(kind, selector, ns)
        ]
        if "Secret" in kinds:
            found += [("Secret", secret) for secret in manifests.secret_names(name)]
        return found

    def _delete_objects(
        self,
        name: str,
        ns: str,
        *,
        keep_data: bool,
        objects: list[tuple[str, str]] | None = None,
    ) -> None:
        """Delete the session's objects (pods first), then wait until they are gone."""
        kinds = SESSION_KINDS if not keep_data else ("Pod", "Secret")
        if objects is None:
            objects = self._session_objects(name, ns, kinds)
        for kind, obj_name in objects:
            if kind in kinds:
                self.cluster.delete(kind, obj_name, ns, grace=0 if kind == "Pod" else None)
        # Like `kubectl delete`, return once they are gone (PVCs linger while their protection
        # finalizer is removed), so an immediate re-run of `start` does not find them. Secrets
        # have no finalizer: gone once deleted.
        listed = tuple(k for k in kinds if k != "Secret")
        deadline = time.monotonic() + DELETE_WAIT
        left = self._session_objects(name, ns, listed)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self._session_objects(name, ns, listed)
        if left:
            raise KodamaError(
                f"still there after {DELETE_WAIT:g}s: " + ", ".join(f"{k} {n}" for k, n in left)
            )

    # -- fetch ---------------------------------------------------------------------------------

    def fetch(
        self,
        name: str,
        *,
        into: str | None = None,
        force: bool = False,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> FetchResult:
        """Bring the session branch back into the local repository (cwd's, else the recorded)."""
        spec, _ = self.spec_of(name)
        record = self.store.read(spec.namespace, name) or {}
        here = git.repo_root(self.cwd)
        recorded = Path(record["localPath"]) if record.get("localPath") else None
        root = here or recorded
        if root is None:
            raise InvalidInput(
                "fetch needs a local git repository: run it inside one",
                hint="the branch is fetched into the repository of the working directory",
            )
        pod = self.cluster.get_pod(manifests.pod_name(name), spec.namespace)
        if not pod_ready(pod):
            raise KodamaError(
                f"session {name} is not running: its branch is fetched from the pod",
                hint=f"`kubectl kodama resume {name}` first, then fetch again",
            )
        rep = Reporter(events, name)
        # Say which repository gets the branch whenever it is not the obvious one.
        if here is None:
            rep.info(f"Not in a git repository: fetching into {root}, where {name} was started")
        elif recorded is not None and here.resolve() != recorded.resolve():
            rep.warn(f"fetching into {here} (the repository you are in), not {recorded}")
        result = git.fetch(
            self.pod_context(spec, root),
            root,
            into=into,
            force=force,
            reporter=rep,
            cancel=cancel or CancelToken(),
        )
        result.repository = str(root)
        rep.done(
            f"Fetched {spec.branch} into {result.local_branch} of {root} ({result.commit[:12]})"
        )
        return result

    # -- attach --------------------------------------------------------------------------------

    def attach_argv(self, name: str, command: list[str] | None = None) -> list[str]:
        """The kubectl command line that attaches to the agent (or runs `command`)."""
        spec, _ = self.spec_of(name)
        pod = self.cluster.get_pod(manifests.pod_name(name), spec.namespace)
        if not pod_ready(pod):
            raise KodamaError(
                f"session {name} is not running",
                hint=f"`kubectl kodama resume {name}` starts it again",
            )
        return agent.attach_command(self.pod_context(spec), command)

    def prepare_attach(
        self, name: str, events: EventSink = null_sink, cancel: CancelToken | None = None
    ) -> list[str]:
        """Run the idempotent ensure step, then return the attach command line."""
        cancel = cancel or CancelToken()
        spec, ws = self.spec_of(name)
        record = self.store.read(spec.namespace, name) or {}
        local = Path(record["localPath"]) if record.get("localPath") else None
        argv = self.attach_argv(name)
        phase = ((ws.get("metadata") or {}).get("annotations") or {}).get(PHASE_ANNOTATION)
        self._ensure_runtime(spec, local, Reporter(events, name), cancel, filled=phase == "ready")
        return argv

    # -- agent: logs and wait ------------------------------------------------------------------

    def logs_argv(self, name: str, *, follow: bool = False, tail: int | None = None) -> list[str]:
        """The kubectl command line that prints (or follows) the headless agent log."""
        spec, _ = self.spec_of(name)
        pod = self.cluster.get_pod(manifests.pod_name(name), spec.namespace)
        if not pod_ready(pod):
            raise KodamaError(
                f"session {name} is not running",
                hint=f"`kubectl kodama resume {name}` starts it again",
            )
        return agent.logs_command(self.pod_context(spec), follow=follow, tail=tail)

    def wait_agent(
        self,
        name: str,
        state: AgentStateName,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> AgentState:
        """Block until the agent of `name` reaches `state` (Timeout after `timeout` seconds)."""
        spec, _ = self.spec_of(name)

        def read() -> AgentState:
            try:
                return self._agent_state(spec)
            except KodamaError:  # e.g. the pod is restarting: keep waiting
                return AgentState()

        return agent.wait_for(
            read,
            state,
            timeout,
            cancel or CancelToken(),
            name=f"the agent of {name}",
        )
