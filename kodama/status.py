"""Derive a session's status from its pod and PVCs (pure; called on every read)."""

from __future__ import annotations

from typing import Any

from .manifests import PHASE_ANNOTATION
from .models import Status

# Waiting reasons that will not fix themselves: report them as Failed right away.
FATAL_WAITING = {
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "ErrImageNeverPull",
}
SLOW_WAITING = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"}


def pod_ready(pod: dict[str, Any] | None) -> bool:
    if not pod or pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def pod_problem(pod: dict[str, Any]) -> tuple[bool, str | None]:
    """(fatal, reason) for a pod that is not Ready yet."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING:
            return True, f"{reason}: {waiting.get('message', '')}".rstrip(": ")
        if reason in SLOW_WAITING:
            return False, f"{reason}: {waiting.get('message', '')}".rstrip(": ")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return (
                False,
                f"{cond.get('reason', 'Unschedulable')}: {cond.get('message', '')}".rstrip(": "),
            )
    return False, None


def derive(
    workspace: dict[str, Any] | None, home: dict[str, Any] | None, pod: dict[str, Any] | None
) -> tuple[Status, str | None]:
    phase = ((workspace or {}).get("metadata", {}).get("annotations") or {}).get(PHASE_ANNOTATION)
    if pod is None and phase == "creating":
        return Status.STOPPED, "start did not finish (run resume to finish it, or delete)"
    for pvc, what in ((workspace, "workspace"), (home, "home")):
        if pvc is None:
            if pod is not None or what == "home":
                return Status.FAILED, f"the {what} PVC is missing"
        elif (pvc.get("status") or {}).get("phase") == "Lost":
            return Status.FAILED, f"the {what} PVC is Lost"
    if pod is None:
        if phase == "creating":
            return Status.STOPPED, "start did not finish (run resume to finish it, or delete)"
        return Status.STOPPED, None
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return Status.STOPPED, "pod is terminating"
    pstatus = pod.get("status") or {}
    pphase = pstatus.get("phase")
    if pphase in ("Failed", "Succeeded"):
        reason = pstatus.get("reason") or pstatus.get("message")
        for cs in pstatus.get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term:
                reason = (
                    reason
                    or f"{term.get('reason', 'Terminated')} (exit code {term.get('exitCode')})"
                )
        return Status.FAILED, reason or f"pod {pphase}"
    if pod_ready(pod):
        if phase == "creating":
            return Status.STARTING, "setting up the workspace and agent"
        return Status.RUNNING, None
    fatal, reason = pod_problem(pod)
    if fatal:
        return Status.FAILED, reason
    for pvc, what in ((workspace, "workspace"), (home, "home")):
        if pvc is not None and (pvc.get("status") or {}).get("phase") == "Pending":
            return Status.PENDING, reason or f"the {what} PVC is Pending"
    if pphase == "Pending" and not pstatus.get("startTime") and reason:
        return Status.PENDING, reason
    return Status.STARTING, reason
