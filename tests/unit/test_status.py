"""Status is derived from pod and PVCs on every read."""

from __future__ import annotations

from typing import Any

from kodama.manifests import PHASE_ANNOTATION
from kodama.models import Status
from kodama.status import derive


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
    from kodama.status import image_pull_problem

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
