"""Start, stop and resume: creating what a plan decided, rolling back what did not finish,
and the idempotent in-pod ensure step that start, resume and attach share.

Never prints; reports progress through an EventSink; honours a CancelToken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kodama.agent import control, usage
from kodama.agent import launch as agent
from kodama.engine import accounting
from kodama.engine.deletion import Deletion
from kodama.engine.reads import Reads
from kodama.engine.waiting import Waiting
from kodama.errors import (
    AgentLaunchFailed,
    AlreadyExists,
    Cancelled,
    KodamaError,
    NeedsConfirmation,
    NotFound,
    Timeout,
)
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.git import session as git
from kodama.k8s import manifests
from kodama.k8s.manifests import PHASE_ANNOTATION
from kodama.k8s.spec_check import spec_from_pvc
from kodama.k8s.status import finished_at, pod_ended, pod_ready
from kodama.models import AgentState, Session, SessionSpec, StartRequest
from kodama.sync import session as sync

if TYPE_CHECKING:
    from kodama.git.ship import Shipment
    from kodama.plan import StartPlan


class Lifecycle(Reads, Deletion, Waiting):
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
            # Past the lock nothing orders the rest: the pod waits for its claims and Secrets
            # by itself. All are created before a cancel or error gets to roll back.
            cancel.check()
            bodies = [manifests.pvc(spec, "home"), *plan.secrets, manifests.pod(spec)]
            with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
                made = list(pool.map(cluster.create, bodies))  # every error, not the first
            home_obj = made[0]
            cancel.check()
            if not req.wait:
                rep.done(f"Session {spec.name} created (not waiting for it to be Ready)")
                return self.get(spec.name)
            timeout = plan.config.timeout
            ready: dict[str, str | None] = {PHASE_ANNOTATION: "ready"}
            ws_pvc = manifests.workspace_pvc_name(spec.name)
            with git.built_ahead(spec, plan.local_path) as shipment:
                pod_obj = self._wait_ready(spec, timeout, rep, cancel, starting=True)
                try:
                    # The workspace is marked filled while the agent launches.
                    ws_obj, launched = self._ensure_runtime(
                        spec,
                        plan.local_path,
                        rep,
                        cancel,
                        prompt=plan.prompt,
                        first=True,
                        new=True,
                        shipment=shipment,
                        after_fill=lambda: cluster.patch_annotations(
                            "PersistentVolumeClaim", ws_pvc, ns, ready
                        ),
                    )
                except AgentLaunchFailed:
                    # Everything but the agent is in place: the session is kept (resume after
                    # a fix, or delete), not rolled back.
                    cluster.patch_annotations("PersistentVolumeClaim", ws_pvc, ns, ready)
                    raise
            # The agent's launch is not interruptible: a Ctrl-C taken during it must still
            # roll back rather than report a Running session.
            cancel.check()
            assert ws_obj is not None
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
        # What get() would read again is what this start just created, waited for and patched.
        return self.session_of(
            spec_from_pvc(ws_obj), ws_obj, home_obj, pod_obj, agent_state=launched
        )

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
        new: bool = False,
        shipment: Callable[[], Shipment | None] | None = None,
        after_fill: Callable[[], dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any] | None, AgentState | None]:
        """The idempotent in-pod step shared by start, resume and attach.

        Filling the workspace and preparing the agent (helper, hooks, first-run files, all in
        HOME) do not depend on each other and overlap; only the launch waits for the workspace.
        `after_fill` runs once the workspace is filled, beside the launch. Returns its result
        and the agent's state as its launch left it (None when not launched).
        """
        ctx = self.pod_context(spec, local_path)
        with ThreadPoolExecutor(max_workers=2) as pool:
            filling = pool.submit(
                git.ensure_workspace, ctx, rep, cancel, filled=filled, new=new, shipment=shipment
            )

            def mark_filled() -> dict[str, Any]:
                assert after_fill is not None
                filling.result()
                return after_fill()

            marking = pool.submit(mark_filled) if after_fill else None
            try:
                launched = agent.ensure_agent(
                    ctx,
                    rep,
                    cancel,
                    prompt=prompt,
                    resume=not first,
                    before_launch=filling.result,
                )
            except BaseException:
                # The workspace step came first before they overlapped: its error wins.
                failed = filling.exception()
                if failed is not None:
                    raise failed from None
                raise
            filling.result()  # the agent already ran: nothing waited for the workspace yet
            return (marking.result() if marking is not None else None), launched

    def _start_sync(
        self, spec: SessionSpec, local_path: Path, rep: Reporter, cancel: CancelToken
    ) -> None:
        if not sync.available():
            rep.info(f"File sync is off: mutagen is not installed; {sync.INSTALL_HINT}")
            return
        try:
            sync.start(self.pod_context(spec, local_path), self.store, rep, cancel)
        except KodamaError as exc:
            rep.warn(f"file sync did not start: {exc.message}")

    def prepare_attach(
        self, name: str, events: EventSink = null_sink, cancel: CancelToken | None = None
    ) -> list[str]:
        """Run the idempotent ensure step, then return the attach command line."""
        cancel = cancel or CancelToken()
        spec, ws = self.spec_of(name)
        local = self.recorded_local(spec.namespace, name)
        self.require_running(spec)  # one read of the PVC serves the check and the phase
        argv = control.attach_command(self.pod_context(spec), None)
        phase = ((ws.get("metadata") or {}).get("annotations") or {}).get(PHASE_ANNOTATION)
        self._ensure_runtime(spec, local, Reporter(events, name), cancel, filled=phase == "ready")
        return argv

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
            sync.stop(self.store, spec.namespace, name)
        c, ns = self.cluster, spec.namespace
        pod = c.get_pod(manifests.pod_name(name), ns)
        end = self._end_run(spec, pod)
        rep.step("stop", f"Deleting pod {manifests.pod_name(name)} (PVCs are kept)")
        # Recording the run's end and reading the home PVC (for the answer) need not wait for
        # the pod to go.
        with ThreadPoolExecutor(max_workers=2) as pool:
            marking = pool.submit(self._record_run, spec, ws, end=end, start=None)
            home = pool.submit(c.get_pvc, manifests.home_pvc_name(name), ns)
            c.delete("Pod", manifests.pod_name(name), ns)
            if wait:
                c.wait_pod(manifests.pod_name(name), ns, 120, cancel, lambda p: p is None)
        rep.done(f"Session {name} stopped; `kubectl kodama resume {name}` brings it back")
        if not wait:
            return self.get(name, events=False)
        return self.session_of(spec, marking.result() or ws, home.result(), None, events=False)

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
        home = c.get_pvc(manifests.home_pvc_name(name), ns)
        if home is None:
            rep.step("create", f"Re-creating the missing home PVC of {name}")
            home = c.create(manifests.pvc(spec, "home"))
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
                end = (
                    usage.parse_time(finished_at(previous_pod)) if pod_ended(previous_pod) else None
                )
                ws = self._record_run(spec, ws, end=end, start=datetime.now(UTC)) or ws
        if not wait:
            return self.get(name, events=False)
        cfg = self.config().config
        pod = self._wait_ready(spec, cfg.timeout, rep, cancel)
        record = self.store.read(ns, name) or {}
        local = Path(record["localPath"]) if record.get("localPath") else None
        phase = ((ws.get("metadata") or {}).get("annotations") or {}).get(PHASE_ANNOTATION)
        _, launched = self._ensure_runtime(
            spec, local, rep, cancel, first=phase == "creating", filled=phase == "ready"
        )
        if phase != "ready":
            ws = c.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(name),
                ns,
                {PHASE_ANNOTATION: "ready"},
            )
        if local is not None and record.get("sync"):
            self._start_sync(spec, local, rep, cancel)
        rep.done(f"Session {name} is Running")
        # What get() would read again is what this resume holds (the pod as it became Ready).
        return self.session_of(spec, ws, home, pod, events=False, agent_state=launched)

    def _end_run(self, spec: SessionSpec, pod: dict[str, Any] | None) -> datetime | None:
        """When the run ends (now, or when the pod ended; None: no pod, no run); the tokens are
        read while the pod is there."""
        now = datetime.now(UTC)
        end = usage.parse_time(finished_at(pod)) if pod_ended(pod) else now
        if pod_ready(pod) and spec.agent_kind == "claude":
            with contextlib.suppress(KodamaError):
                accounting.remember_tokens(self, spec, now)
        return end if pod is not None else None

    def _record_run(
        self, spec: SessionSpec, ws: dict[str, Any], *, end: datetime | None, start: datetime | None
    ) -> dict[str, Any] | None:
        """Usage: a run's end and/or start on the workspace PVC; the PVC as patched (None when
        the patch failed: usage is not worth failing a stop or resume for)."""
        with contextlib.suppress(KodamaError):
            return self.cluster.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(spec.name),
                spec.namespace,
                usage.runs_update(ws, end=end, start=start),
            )
        return None
