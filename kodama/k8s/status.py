"""Derive a session's status from its pod and PVCs (pure; called on every read)."""

from __future__ import annotations

import re
from typing import Any

from kodama.agent.idle import WATCHER_NAME, idle_reason
from kodama.k8s.manifests import PHASE_ANNOTATION
from kodama.models import Status

# Waiting reasons that will not fix themselves: report them as Failed right away.
FATAL_WAITING = {
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "ErrImageNeverPull",
}
SLOW_WAITING = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"}
PULL_WAITING = {"ErrImagePull", "ImagePullBackOff"}
# Registry answers that no retry will change (a typo, an image never pushed, no access).
_PULL_HOPELESS = ("not found", "manifest unknown", "name unknown", "unauthorized", "denied")


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


def pod_ended(pod: dict[str, Any] | None) -> bool:
    """The pod's containers are done for good (Succeeded, e.g. idle stop, or Failed)."""
    return ((pod or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_idle_watcher(pod: dict[str, Any]) -> bool:
    """The pod's main process is Kodama's idle watcher (only it exits 0 on its own)."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        cmd = c.get("command") or []
        if len(cmd) >= 4 and cmd[3] == WATCHER_NAME:
            return True
    return False


def finished_at(pod: dict[str, Any] | None) -> str | None:
    """When an ended pod's container finished (RFC 3339), if the kubelet said."""
    for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term.get("finishedAt"):
            return str(term["finishedAt"])
    return None


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


def _last_termination(cs: dict[str, Any]) -> str:
    term = (cs.get("lastState") or {}).get("terminated") or {}
    if not term:
        return ""
    what = term.get("reason") or "Terminated"
    detail = f"exit code {term.get('exitCode')}"
    if term.get("message"):
        detail += f": {str(term['message']).strip().splitlines()[-1][:200]}"
    return f"{what} ({detail})" + (f" at {term['finishedAt']}" if term.get("finishedAt") else "")


def restart_note(pod: dict[str, Any]) -> str | None:
    """Why a Running pod's container was restarted (OOMKilled, its main process ended), if it was.

    The agent and anything started through exec died with that container: the next ensure step
    (attach, resume) launches the agent again.
    """
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        count = int(cs.get("restartCount") or 0)
        if count:
            last = _last_termination(cs)
            times = "once" if count == 1 else f"{count} times"
            return f"container restarted {times}" + (f", last: {last}" if last else "")
    return None


def crash_loop(pod: dict[str, Any]) -> str | None:
    """'CrashLoopBackOff: <how the container last ended>' when the container keeps failing."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            last = _last_termination(cs)
            return "CrashLoopBackOff" + (f": last {last}" if last else "")
    return None


def image_pull_problem(pod: dict[str, Any]) -> tuple[str, str, bool] | None:
    """(image, short reason, hopeless) when the pod's image cannot be pulled, else None.

    `hopeless`: the registry said the image does not exist or may not be read; anything else
    (a registry that does not answer) may still pass on the kubelet's next try.
    """
    status = pod.get("status") or {}
    spec_images = {
        c.get("name"): c.get("image") for c in (pod.get("spec") or {}).get("containers") or []
    }
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in PULL_WAITING:
            continue
        message = str(waiting.get("message") or waiting.get("reason"))
        image = spec_images.get(cs.get("name")) or cs.get("image") or "?"
        # containerd nests causes as "a: b: c"; the last one is what the registry said.
        short = message.rsplit(": ", 1)[-1].strip() or message
        hopeless = any(word in message.lower() for word in _PULL_HOPELESS)
        return str(image), short, hopeless
    return None


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
    if pphase == "Succeeded":
        # The idle watcher (kodama/agent/idle.py) ended the pod: stopped, as after `stop`.
        for cs in pstatus.get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            idle = idle_reason(term.get("message"))
            if idle:
                return Status.STOPPED, idle
        if is_idle_watcher(pod):  # no termination message (a runtime that keeps none)
            return Status.STOPPED, f"idle stop at {finished_at(pod) or 'an unknown time'}"
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
        return Status.RUNNING, restart_note(pod)
    fatal, reason = pod_problem(pod)
    if fatal:
        return Status.FAILED, reason
    crash = crash_loop(pod)
    if crash:
        return Status.FAILED, crash
    for pvc, what in ((workspace, "workspace"), (home, "home")):
        if pvc is not None and (pvc.get("status") or {}).get("phase") == "Pending":
            return Status.PENDING, reason or f"the {what} PVC is Pending"
    if pphase == "Pending" and not pstatus.get("startTime") and reason:
        return Status.PENDING, reason
    return Status.STARTING, reason


# Scheduler verdicts that no retry fixes while `start` waits: the pod asks for more than any
# node has free, or for nodes that do not exist. Others (unbound PVCs, "Too many pods") pass.
_PERMANENT = (
    re.compile(r"^Insufficient \S+$"),
    re.compile(r"node\(s\) didn't match Pod's node affinity/selector"),
    re.compile(r"node\(s\) had untolerated taint"),
    re.compile(r"node\(s\) didn't match pod anti-affinity rules"),
)
# "0/1 nodes are available: 1 Insufficient cpu. <more sentences, e.g. about preemption>"
_AVAILABLE = re.compile(r"^(?P<head>0/\d+ nodes are available: (?P<why>.*?))(?:\.\s.*|\.)?$")


def unschedulable(pod: dict[str, Any]) -> str | None:
    """The scheduler's message when it says the pod fits no node for good, else None.

    "0/1 nodes are available: 1 Insufficient cpu. preemption: …" -> "0/1 nodes are available:
    1 Insufficient cpu" (what follows says preemption or claims would not help). A pod the
    scheduler nominated a node for is being fitted by preemption: not permanent.
    """
    status = pod.get("status") or {}
    if status.get("nominatedNodeName"):
        return None
    for cond in status.get("conditions") or []:
        if cond.get("type") != "PodScheduled" or cond.get("status") != "False":
            continue
        if cond.get("reason") != "Unschedulable":
            return None
        message = " ".join(str(cond.get("message") or "").split())
        m = _AVAILABLE.match(message)
        if not m:
            return None
        reasons = [re.sub(r"^\d+ ", "", r.strip()) for r in m.group("why").split(", ")]
        if reasons and all(any(p.search(r) for p in _PERMANENT) for r in reasons):
            return m.group("head")
    return None


def _when(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def current_events(
    events: list[dict[str, Any]], obj: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The events that describe `obj` as it is now, oldest first.

    Events outlive their object: those of an earlier pod of the same name (a stopped or
    resumed session) are dropped by uid, scheduling failures from before the pod was scheduled
    are dropped once it is, and of several FailedScheduling events only the newest is kept.
    """
    if obj is None:
        return []
    meta = obj.get("metadata") or {}
    uid = meta.get("uid")
    mine = [e for e in events if (e.get("involvedObject") or {}).get("uid") in (None, uid)]
    scheduled_at = next(
        (
            str(c.get("lastTransitionTime") or "")
            for c in (obj.get("status") or {}).get("conditions") or []
            if c.get("type") == "PodScheduled" and c.get("status") == "True"
        ),
        None,
    )
    mine.sort(key=_when)
    out: list[dict[str, Any]] = []
    last_failed = max(
        (i for i, e in enumerate(mine) if e.get("reason") == "FailedScheduling"), default=-1
    )
    for i, e in enumerate(mine):
        if e.get("reason") == "FailedScheduling" and (
            i != last_failed or (scheduled_at is not None and _when(e) <= scheduled_at)
        ):
            continue
        out.append(e)
    return out
