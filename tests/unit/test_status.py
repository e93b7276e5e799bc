"""Status is derived from pod and PVCs on every read."""

from __future__ import annotations

from typing import Any

import pytest

from kodama.k8s.manifests import PHASE_ANNOTATION
from kodama.k8s.status import current_events, derive, unschedulable
from kodama.models import Status


def pvc(
    phase: str = "Bound", annotation: str | None = "ready", name: str = "kodama-s-workspace"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotation:
        meta["annotations"] = {PHASE_ANNOTATION: annotation}
    return {"metadata": meta, "status": {"phase": phase}}


def pod(phase: str = "Running", ready: bool = True, **status: Any) -> dict[str, Any]:
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": {"name": "kodama-s"},
        "status": {"phase": phase, "conditions": conds, **status},
    }


def test_running() -> None:
    assert derive(pvc(), pvc(annotation=None), pod()) == (Status.RUNNING, None)


def test_no_pod_is_stopped() -> None:
    assert derive(pvc(), pvc(annotation=None), None)[0] == Status.STOPPED


def test_interrupted_start_is_stopped_with_hint() -> None:
    status, reason = derive(pvc(annotation="creating"), None, None)
    assert status == Status.STOPPED
    assert reason is not None and "resume" in reason and "delete" in reason


def test_ready_but_setup_unfinished_is_starting() -> None:
    assert derive(pvc(annotation="creating"), pvc(annotation=None), pod())[0] == Status.STARTING


def test_failed_pod_reports_reason() -> None:
    status, reason = derive(
        pvc(), pvc(annotation=None), pod(phase="Failed", ready=False, reason="Evicted")
    )
    assert status == Status.FAILED and reason == "Evicted"


def test_image_pull_backoff_is_starting_with_reason() -> None:
    cs = [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]
    status, reason = derive(
        pvc(),
        pvc(annotation=None),
        pod(phase="Pending", ready=False, containerStatuses=cs, startTime="x"),
    )
    assert status == Status.STARTING and reason is not None and "ImagePullBackOff" in reason


def test_config_error_is_failed() -> None:
    cs = [
        {
            "state": {
                "waiting": {"reason": "CreateContainerConfigError", "message": "secret missing"}
            }
        }
    ]
    assert (
        derive(
            pvc(), pvc(annotation=None), pod(phase="Pending", ready=False, containerStatuses=cs)
        )[0]
        == Status.FAILED
    )


def test_pending_pvc_is_pending() -> None:
    status, reason = derive(
        pvc(phase="Pending"), pvc(annotation=None), pod(phase="Pending", ready=False)
    )
    assert status == Status.PENDING and "PVC" in (reason or "")


def test_unschedulable_is_pending() -> None:
    conds = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes",
        }
    ]
    p = {"metadata": {}, "status": {"phase": "Pending", "conditions": conds}}
    status, reason = derive(pvc(), pvc(annotation=None), p)
    assert status == Status.PENDING and "Unschedulable" in (reason or "")


def test_missing_home_pvc_is_failed() -> None:
    assert derive(pvc(), None, pod())[0] == Status.FAILED


def test_terminating_pod_is_stopped() -> None:
    p = pod()
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert derive(pvc(), pvc(annotation=None), p)[0] == Status.STOPPED


def _pulling(reason: str, message: str) -> dict:
    return {
        "spec": {"containers": [{"name": "agent", "image": "reg.example/kodama/agent:1"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "agent", "state": {"waiting": {"reason": reason, "message": message}}}
            ],
        },
    }


def test_image_pull_problems() -> None:
    from kodama.k8s.status import image_pull_problem

    missing = _pulling(
        "ErrImagePull",
        'rpc error: code = NotFound desc = failed to pull and unpack image "reg.example/kodama/'
        'agent:1": failed to resolve reference "reg.example/kodama/agent:1": '
        "reg.example/kodama/agent:1: not found",
    )
    assert image_pull_problem(missing) == ("reg.example/kodama/agent:1", "not found", True)
    down = _pulling(
        "ImagePullBackOff",
        'Back-off pulling image "reg.example/kodama/agent:1": dial tcp: connection refused',
    )
    assert image_pull_problem(down) == ("reg.example/kodama/agent:1", "connection refused", False)
    assert image_pull_problem(_pulling("ContainerCreating", "")) is None


# -- issue 21: unschedulable for good, and events that describe the pod as it is now ---------


def pending(message: str, reason: str = "Unschedulable", **status: Any) -> dict[str, Any]:
    cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}
    return {
        "metadata": {"name": "kodama-s", "uid": "u2"},
        "status": {"phase": "Pending", "conditions": [cond], **status},
    }


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.",
            "0/1 nodes are available: 1 Insufficient cpu",
        ),
        (
            "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node "
            "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
            "helpful for scheduling.",
            "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node "
            "affinity/selector",
        ),
        (
            "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: true}. preemption: "
            "not eligible",
            "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: true}",
        ),
        (  # v1.34 wording, with dynamic resource allocation
            "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, "
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            "0/1 nodes are available: 1 Insufficient cpu",
        ),
        # Fixes itself: the claims are being bound / a pod slot may free up.
        ("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.", None),
        ("0/2 nodes are available: 1 Insufficient cpu, 1 Too many pods.", None),
        ("something else entirely", None),
    ],
)
def test_unschedulable_for_good(message: str, expected: str | None) -> None:
    assert unschedulable(pending(message)) == expected


def test_unschedulable_not_while_preempting_or_for_other_reasons() -> None:
    msg = "0/1 nodes are available: 1 Insufficient cpu."
    assert unschedulable(pending(msg, nominatedNodeName="n1")) is None
    assert unschedulable(pending(msg, reason="SchedulingGated")) is None
    assert unschedulable(pod()) is None


def event(reason: str, when: str, uid: str = "u2", type_: str = "Warning") -> dict[str, Any]:
    return {
        "type": type_,
        "reason": reason,
        "message": f"{reason} at {when}",
        "lastTimestamp": when,
        "involvedObject": {"uid": uid},
    }


def test_current_events_drop_earlier_pods_and_old_scheduling_failures() -> None:
    evs = [
        event("FailedScheduling", "2026-01-01T00:00:01Z", uid="u1"),  # an earlier pod
        event("FailedScheduling", "2026-01-01T00:01:00Z"),
        event("FailedScheduling", "2026-01-01T00:02:00Z"),
        event("Pulling", "2026-01-01T00:03:00Z", type_="Normal"),
    ]
    p = pending("0/1 nodes are available: 1 Insufficient cpu.")
    assert [e["message"] for e in current_events(evs, p)] == [
        "FailedScheduling at 2026-01-01T00:02:00Z",
        "Pulling at 2026-01-01T00:03:00Z",
    ]
    # Once scheduled, scheduling failures from before are history.
    scheduled = pod(phase="Pending", ready=False)
    scheduled["metadata"]["uid"] = "u2"
    scheduled["status"]["conditions"].append(
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:02:30Z"}
    )
    assert [e["reason"] for e in current_events(evs, scheduled)] == ["Pulling"]
    # No pod (a stopped session): none of the old pods' events apply.
    assert current_events(evs, None) == []
