"""doctor's pure parts: the checklist text, the probe pod, the permission list."""

from __future__ import annotations

from kodama.config import Config
from kodama.engine.doctor import DoctorReport, probe_spec, render
from kodama.k8s import manifests, rbac


def test_render_marks_and_fixes() -> None:
    report = DoctorReport()
    report.add("kubectl", "ok", "kubectl v1.32.0")
    report.add("permissions", "failing", "missing in namespace a: create pods/exec", "run rbac")
    report.add("image", "warning", "default image", "build it")
    assert render(report).splitlines() == [
        "ok    kubectl      kubectl v1.32.0",
        "FAIL  permissions  missing in namespace a: create pods/exec",
        "                   fix: run rbac",
        "warn  image        default image",
        "                   fix: build it",
        "1 failing, 1 warning(s)",
    ]
    assert report.failing


def test_probe_pod_has_no_volumes_and_stays_restricted() -> None:
    spec = probe_spec(Config.model_validate({"image": "reg/agent:1"}), "ns", "doctor-abc")
    pod = manifests.probe_pod(spec, "kodama-doctor-abc")
    assert pod["metadata"]["name"] == "kodama-doctor-abc"
    assert pod["metadata"]["labels"]["kodama.dev/component"] == "doctor"
    assert "kodama.dev/session" not in pod["metadata"]["labels"]  # never listed as a session
    assert pod["spec"]["volumes"] == [] and pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    assert container["image"] == "reg/agent:1" and "volumeMounts" not in container
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_permissions_cover_exec_and_the_rbac_role() -> None:
    perms = rbac.permissions()
    assert ("create", "pods/exec") in perms and ("patch", "persistentvolumeclaims") in perms
    assert ("watch", "pods") in perms and ("watch", "persistentvolumeclaims") in perms  # the LSP
    assert len(perms) == len(set(perms)) == 17
