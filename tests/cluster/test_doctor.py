"""doctor against the test plane: the admin, a ServiceAccount without pods/exec, Pod Security,
StorageClasses, and the image probe pod."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kodama, as_service_account

pytestmark = pytest.mark.cluster


def checks(proc: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def test_all_ok_for_the_admin_in_a_restricted_namespace(kodama: Kodama, testenv: Any) -> None:
    proc = kodama.run("doctor", "-o", "json", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = checks(proc)
    assert {c["status"] for c in got.values()} == {"ok"}, got
    assert set(got) >= {"config", "kubectl", "cluster", "permissions", "pod-security", "storage"}
    assert "v1.34" in got["cluster"]["message"]
    assert "enforces Pod Security 'restricted'" in got["pod-security"]["message"]
    assert "a session pod complies" in got["pod-security"]["message"]
    assert got["storage"]["message"] == "default StorageClass kodama-testenv"
    # The dry run and the access reviews left nothing behind.
    assert testenv.managed(kodama.namespace) == []
    text = kodama.run("doctor")
    assert text.stdout.splitlines()[-1] == "all checks ok"


def test_image_check_runs_a_probe_pod_and_removes_it(kodama: Kodama, testenv: Any) -> None:
    proc = kodama.run("doctor", "--image-check", "-o", "json", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = checks(proc)
    assert "pulled and started in a probe pod" in got["image"]["message"]
    # The simulated node runs exec on this host, which has git and tmux.
    assert got["image-tools"] == {
        "name": "image-tools",
        "status": "ok",
        "message": "the image has git, tmux",
        "fix": None,
    }
    assert testenv.kubectl("get", "pods", "-n", kodama.namespace, "-o", "name").stdout == ""


def test_a_serviceaccount_without_pods_exec_is_told_which_permission(
    kodama: Kodama, testenv: Any, tmp_path: Path
) -> None:
    ns = kodama.namespace
    testenv.kubectl("create", "serviceaccount", "no-exec", "-n", ns)
    role = kodama.run("rbac", "--serviceaccount", "no-exec", "-o", "json").stdout
    objs = json.loads(role)["items"]
    objs[0]["rules"] = [r for r in objs[0]["rules"] if r["resources"] != ["pods/exec"]]
    testenv.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
    )
    sa = as_service_account(kodama, testenv, "no-exec", tmp_path / "sa.kubeconfig")
    proc = sa.run("doctor", "-o", "json", check=False)
    assert proc.returncode == 1
    got = checks(proc)
    perm = got["permissions"]
    assert perm["status"] == "failing"
    assert perm["message"] == f"missing in namespace {ns}: create pods/exec, get pods/exec"
    assert "kubectl kodama rbac" in perm["fix"]
    # Namespaces and StorageClasses are cluster-scoped reads this ServiceAccount lacks: said so.
    assert got["storage"]["status"] == "warning"
    assert "a session pod complies" in got["pod-security"]["message"]
    text = sa.run("doctor", check=False)
    assert text.returncode == 1
    assert "FAIL  permissions" in text.stdout and "fix: " in text.stdout


def test_the_dry_run_reports_what_admission_refuses(kodama: Kodama, testenv: Any) -> None:
    # Session pods always meet `restricted`, so a quota is what admission refuses here.
    ns = kodama.namespace
    testenv.kubectl("create", "quota", "tiny", "-n", ns, "--hard=pods=0")
    got = checks(kodama.run("doctor", "-o", "json", check=False))
    assert got["pod-security"]["status"] == "warning"
    assert "exceeded quota" in got["pod-security"]["message"]


def test_storage_class_missing_or_no_default(kodama: Kodama, testenv: Any) -> None:
    proc = kodama.run("doctor", "--storage-class", "nosuch", "-o", "json", check=False)
    assert proc.returncode == 1
    st = checks(proc)["storage"]
    assert st["status"] == "failing"
    assert st["message"] == "StorageClass nosuch does not exist: the PVCs would stay Pending"
    assert "kodama-testenv" in st["fix"]

    key = "storageclass.kubernetes.io/is-default-class"
    testenv.kubectl("annotate", "storageclass", "kodama-testenv", f"{key}-")
    try:
        proc = kodama.run("doctor", "-o", "json", check=False)
    finally:
        testenv.kubectl("annotate", "--overwrite", "storageclass", "kodama-testenv", f"{key}=true")
    assert proc.returncode == 1
    st = checks(proc)["storage"]
    assert st["message"] == "no default StorageClass: the PVCs would stay Pending"


def test_bad_config_and_default_image_are_reported(kodama: Kodama) -> None:
    kodama.write_config("sync:\n  enabled: false\n")
    got = checks(kodama.run("doctor", "-o", "json", check=False))
    assert got["image"]["status"] == "warning"
    assert "image build --push" in got["image"]["fix"]
    kodama.write_config("resources:\n  cpu: lots\n")
    proc = kodama.run("doctor", "-o", "json", check=False)
    assert proc.returncode == 1
    assert "config.yaml:2: resources.cpu" in checks(proc)["config"]["message"]
