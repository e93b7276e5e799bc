"""Reading sessions: list, get, the agent's state, and the command lines of attach and logs.

`list` does one label-selector list per kind; agent states are one exec per Running session.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from kodama import store as store_mod
from kodama.engine.core import EngineBase
from kodama.errors import Forbidden, KodamaError
from kodama.k8s import manifests
from kodama.k8s.manifests import SELECTOR, SESSION_LABEL

# An empty `list` needs only the two lists: the models (pydantic), the spec check, agent
# states, git and sync are imported once there is a session to build (tests/unit/test_imports.py).
if TYPE_CHECKING:
    from kodama.events import CancelToken
    from kodama.models import AgentState, AgentStateName, Session, SessionSpec


def session_order(s: Session) -> tuple[str, str, bool, str]:
    """A fan-out's sessions sit together, under their family's name."""
    return s.namespace, s.family or s.name, s.family is None, s.name


class Reads(EngineBase):
    def _session(
        self,
        spec: SessionSpec,
        ws: dict[str, Any] | None,
        home: dict[str, Any] | None,
        pod: dict[str, Any] | None,
        record: dict[str, Any] | None = None,
    ) -> Session:
        from kodama.k8s.status import derive
        from kodama.models import Session

        status, reason = derive(ws, home, pod)
        if record is None:
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
        out, specs, records = self.sessions_from(pvcs, pods)
        if not out:
            return out
        if agent_state:
            self._fill_agent_states(out, specs)
        with contextlib.suppress(KodamaError):
            from kodama.sync import session as sync

            syncing = sync.statuses(self.store)
            for s in out:
                s.sync = syncing.get((s.namespace, s.name))
        self._rebuild_records(out, specs, records)
        return out

    def sessions_from(
        self, pvcs: list[dict[str, Any]], pods: list[dict[str, Any]]
    ) -> tuple[
        list[Session],
        dict[tuple[str, str], SessionSpec],
        dict[tuple[str, str], dict[str, Any] | None],
    ]:
        """Sessions (no agent state) from listed or watched PVCs and pods, their specs, and
        the session files read on the way."""

        def key(obj: dict[str, Any]) -> tuple[str, str]:
            meta = obj["metadata"]
            return meta["namespace"], (meta.get("labels") or {}).get(SESSION_LABEL, "")

        pods_by = {key(p): p for p in pods}
        homes = {key(p): p for p in pvcs if p["metadata"]["name"].endswith("-home")}
        out: list[Session] = []
        specs: dict[tuple[str, str], SessionSpec] = {}
        records: dict[tuple[str, str], dict[str, Any] | None] = {}
        for ws in pvcs:
            if not ws["metadata"]["name"].endswith("-workspace"):
                continue
            from kodama.k8s.spec_check import spec_from_pvc

            try:
                spec = spec_from_pvc(ws)
            except (KodamaError, ValueError):
                continue
            k = key(ws)
            specs[(spec.namespace, spec.name)] = spec
            # One read of each session file per list (the refresh compares with it).
            record = records[(spec.namespace, spec.name)] = self._read_record(spec)
            out.append(self._session(spec, ws, homes.get(k), pods_by.get(k), record or {}))
        out.sort(key=session_order)
        return out, specs, records

    def _read_record(self, spec: SessionSpec) -> dict[str, Any] | None:
        try:
            return self.store.read(spec.namespace, spec.name)
        except KodamaError:  # a name the store refuses: nothing local to show or refresh
            return None

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
        from concurrent.futures import ThreadPoolExecutor

        from kodama.models import AgentState, Status

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
        from kodama.agent import control as agent
        from kodama.agent.state import parse_status
        from kodama.models import AgentState

        out = self.cluster.exec_output(
            manifests.pod_name(spec.name), spec.namespace, manifests.CONTAINER, agent.STATE_COMMAND
        )
        try:
            return parse_status(out, spec.agent_kind)
        except Exception:  # written by the pod: whatever it holds must not break other sessions
            return AgentState(message="the agent state file could not be read")

    def _rebuild_records(
        self,
        sessions: list[Session],
        specs: dict[tuple[str, str], SessionSpec],
        records: dict[tuple[str, str], dict[str, Any] | None] | None = None,
    ) -> None:
        """The session files follow the cluster: a lost file is written again, a stale one
        refreshed (only when a cluster-derived field changed)."""
        for s in sessions:
            spec = specs.get((s.namespace, s.name))
            if spec is None:
                continue
            fields = store_mod.cluster_fields(spec, s, s.local_path)
            known = (records or {}).get((s.namespace, s.name))
            if known is not None and all(
                known.get(k) == fields.get(k) for k in store_mod.CLUSTER_FIELDS
            ):
                continue  # up to date as read moments ago: no second read of the file
            new = {"kubeconfig": self.target.kubeconfig, "context": self.target.context}
            with contextlib.suppress(OSError):
                self.store.refresh(s.namespace, s.name, fields, new)

    def get(self, name: str, *, events: bool = True, details: bool = False) -> Session:
        spec, ws = self.spec_of(name)
        ns = spec.namespace
        c = self.cluster
        home = c.get_pvc(manifests.home_pvc_name(name), ns)
        pod = c.get_pod(manifests.pod_name(name), ns)
        return self.session_of(spec, ws, home, pod, events=events, details=details)

    def session_of(
        self,
        spec: SessionSpec,
        ws: dict[str, Any],
        home: dict[str, Any] | None,
        pod: dict[str, Any] | None,
        *,
        events: bool = True,
        details: bool = False,
        agent_state: AgentState | None = None,
    ) -> Session:
        """What get() returns, from objects the caller already holds (start has them all; its
        launch also read the agent's state)."""
        from kodama.engine.waiting import WAITS_FOR_POD
        from kodama.git import session as git
        from kodama.k8s.status import current_events
        from kodama.models import Status
        from kodama.sync import session as sync

        name, ns, c = spec.name, spec.namespace, self.cluster
        session = self._session(spec, ws, home, pod)
        self._rebuild_records([session], {(ns, name): spec})
        if session.status == Status.RUNNING:
            ctx = self.pod_context(spec)
            with contextlib.suppress(KodamaError):
                session.agent = agent_state or self._agent_state(spec)
            if details:
                with contextlib.suppress(KodamaError):
                    session.ahead = git.ahead(ctx)
        elif events:
            evs = current_events(c.events_for(manifests.pod_name(name), ns), pod)[-5:]
            if (ws.get("status") or {}).get("phase") != "Bound":  # else provisioning is history
                claim = current_events(c.events_for(manifests.workspace_pvc_name(name), ns), ws)
                if pod is None:  # "waiting for its consumer": that pod is gone
                    claim = [e for e in claim if e.get("reason") not in WAITS_FOR_POD]
                evs += claim[-2:]
            session.events = [f"{e.get('type')} {e.get('reason')}: {e.get('message')}" for e in evs]
        with contextlib.suppress(KodamaError):
            session.sync = sync.status(self.store, ns, name)
        return session

    def attach_argv(self, name: str, command: list[str] | None = None) -> list[str]:
        """The kubectl command line that attaches to the agent (or runs `command`)."""
        from kodama.agent import control as agent

        spec = self.running_spec(name)
        return agent.attach_command(self.pod_context(spec), command)

    def logs_argv(self, name: str, *, follow: bool = False, tail: int | None = None) -> list[str]:
        """The kubectl command line that prints (or follows) the headless agent log."""
        from kodama.agent import control as agent

        spec = self.running_spec(name)
        return agent.logs_command(self.pod_context(spec), follow=follow, tail=tail)

    def wait_agent(
        self,
        name: str,
        state: AgentStateName,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> AgentState:
        """Block until the agent of `name` reaches `state` (Timeout after `timeout` seconds)."""
        from kodama.agent import control as agent
        from kodama.events import CancelToken
        from kodama.models import AgentState

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
