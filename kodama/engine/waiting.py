"""Waiting for a session's pod: what keeps it from Ready, said early and plainly."""

from __future__ import annotations

import time
from typing import Any

from kodama.engine.core import EngineBase
from kodama.errors import ImagePullFailed, KodamaError, Timeout
from kodama.events import CancelToken, Reporter
from kodama.k8s import manifests
from kodama.k8s.status import (
    crash_loop,
    current_events,
    image_pull_problem,
    pod_problem,
    pod_ready,
    unschedulable,
)
from kodama.models import SessionSpec

WARN_AFTER = 5.0  # seconds a start-up problem must last before it is reported
# A pull error that is not plainly hopeless gets this long (the kubelet retries) before start
# gives up; a first error shows 2-15 s after the pod is created, so start fails within a minute.
PULL_GRACE = 20.0
# Events of a claim that only waits for its pod to be scheduled (WaitForFirstConsumer binding).
WAITS_FOR_POD = ("WaitForFirstConsumer", "WaitForPodScheduled")


class Waiting(EngineBase):
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
                if evs and evs[-1].get("reason") in WAITS_FOR_POD and pod:
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
