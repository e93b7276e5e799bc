"""Manifest building is pure: spec in, objects out."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from kodama import plan
from kodama.config import load_config
from kodama.k8s import manifests
from kodama.models import SecretFile, SessionSpec, StartRequest
from tests.fixtures.specs import session_spec


def spec(**kw: object) -> SessionSpec:
    sizes = {"cpu": "2", "memory": "4Gi", "workspace_size": "10Gi", "home_size": "2Gi"}
    return session_spec(**{"image": "img:1", "branch": "kodama/demo", **sizes, **kw})


def test_names_and_labels() -> None:
    s = spec()
    pod = manifests.pod(s)
    assert pod["metadata"]["name"] == "kodama-demo"
    assert pod["metadata"]["labels"][manifests.MANAGED_BY] == "kodama"
    assert pod["metadata"]["labels"][manifests.SESSION_LABEL] == "demo"
    for which in ("workspace", "home"):
        pvc = manifests.pvc(s, which)
        assert pvc["metadata"]["name"] == f"kodama-demo-{which}"
        assert pvc["metadata"]["labels"][manifests.MANAGED_BY] == "kodama"


def test_pod_meets_restricted_pod_security() -> None:
    pod = manifests.pod(spec())["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True
    for v in pod["volumes"]:
        assert "hostPath" not in v


def test_in_pod_paths_come_from_env() -> None:
    (c,) = manifests.pod(spec())["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert env["HOME"] == mounts["home"]
    assert env["KODAMA_WORKSPACE"] == mounts["workspace"] == c["workingDir"]
    assert env["KODAMA_SESSION"] == "demo"


def test_resources_requests_equal_limits_with_extras() -> None:
    (c,) = manifests.pod(spec(extra_resources={"nvidia.com/gpu": "1"}))["spec"]["containers"]
    assert c["resources"]["requests"] == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert c["resources"]["limits"] == c["resources"]["requests"]


def test_node_selector_and_tolerations() -> None:
    tol = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pod = manifests.pod(spec(node_selector={"pool": "agents"}, tolerations=tol))["spec"]
    assert pod["nodeSelector"] == {"pool": "agents"}
    assert pod["tolerations"] == tol
    assert "nodeSelector" not in manifests.pod(spec())["spec"]


def test_credentials_only_by_secret_reference() -> None:
    s = spec(credential_keys=["ANTHROPIC_API_KEY", "git-token"])
    pod = manifests.pod(s)
    (c,) = pod["spec"]["containers"]
    key_env = next(e for e in c["env"] if e["name"] == "ANTHROPIC_API_KEY")
    assert "value" not in key_env
    assert key_env["valueFrom"]["secretKeyRef"] == {
        "name": "kodama-demo-credentials",
        "key": "ANTHROPIC_API_KEY",
    }
    # The git token is a file under KODAMA_SECRETS, never an env var.
    assert all(e["name"] != "git-token" for e in c["env"])
    vol = next(v for v in pod["spec"]["volumes"] if v["name"] == "kodama-secrets")
    assert {"key": "git-token", "path": "git/token", "mode": 0o400} in vol["secret"]["items"]


def test_secret_files_mount_by_subpath_with_valid_keys() -> None:
    dests = ["/x/a b/ü.json", "/etc/.hidden", "/trailing/", "/home/kodama/../etc/y"]
    files = [SecretFile(key=manifests.secret_file_key(i, d), dest=d) for i, d in enumerate(dests)]
    (c,) = manifests.pod(spec(secret_files=files))["spec"]["containers"]
    for f in files:
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", f.key), f.key
        assert f.key not in (".", "..")
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == f.dest)
        assert mount == {
            "name": "kodama-files",
            "mountPath": f.dest,
            "subPath": f.key,
            "readOnly": True,
        }
    assert len({f.key for f in files}) == len(files)
    assert not any(e["name"] == "KODAMA_FILES" for e in c["env"])


def test_secret_files_under_home_are_linked_not_mounted() -> None:
    """A subPath mount under HOME would leave root-owned folders (~/.config) in the agent's HOME."""
    dest = "/home/kodama/.config/gh/hosts.yml"
    files = [SecretFile(key="f0-hosts.yml", dest=dest), SecretFile(key="f1-x", dest="/etc/x")]
    s = spec(secret_files=files)
    (c,) = manifests.pod(s)["spec"]["containers"]
    assert not any(m["mountPath"] == dest for m in c["volumeMounts"])
    assert {"name": "kodama-files", "mountPath": manifests.FILES_DIR, "readOnly": True} in c[
        "volumeMounts"
    ]
    assert {"name": "KODAMA_FILES", "value": manifests.FILES_DIR} in c["env"]
    assert manifests.secret_file_links(s) == [("f0-hosts.yml", ".config/gh/hosts.yml")]
    assert any(m["mountPath"] == "/etc/x" and m["subPath"] == "f1-x" for m in c["volumeMounts"])
    assert manifests.home_relative("/home/kodama") is None
    assert manifests.home_relative("/home/kodama/a/../b") is None


def test_spec_annotation_roundtrips() -> None:
    s = spec(credential_keys=["ANTHROPIC_API_KEY"])
    pvc = manifests.pvc(s, "workspace")
    raw = pvc["metadata"]["annotations"][manifests.SPEC_ANNOTATION]
    assert SessionSpec.model_validate_json(raw) == s
    assert pvc["metadata"]["annotations"][manifests.PHASE_ANNOTATION] == "creating"
    assert json.loads(raw)["credentialKeys"] == ["ANTHROPIC_API_KEY"]


def test_secret_values_are_in_the_secrets_and_nowhere_else_start_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every secret a start is given (credential, git token, --env-file, --secret-file)."""
    values = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-plan-Q7xv2LmN9pR4sT6u",
        "GIT_TOKEN_FOR_TEST": "ghp_planTest0123456789abcdef",
        "env": "env-file-value-4711-Zq",
        "file": "secret-file-body-0815-Wx",
    }
    monkeypatch.setenv("KODAMA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", values["ANTHROPIC_API_KEY"])
    monkeypatch.setenv("GIT_TOKEN_FOR_TEST", values["GIT_TOKEN_FOR_TEST"])
    (tmp_path / "agent.env").write_text(f"DB_PASSWORD={values['env']}\n")
    (tmp_path / "token.txt").write_text(values["file"])
    (tmp_path / ".git").mkdir()
    request = StartRequest(
        name="demo",
        repo="https://example.com/r.git",
        git_token_env="GIT_TOKEN_FOR_TEST",
        env_file=str(tmp_path / "agent.env"),
        secret_files=[f"{tmp_path / 'token.txt'}:/etc/tool/token.txt"],
    )
    started = plan.build(
        request, config=lambda f: load_config(tmp_path, f), namespace="dev", cwd=tmp_path
    )

    def forms(value: str) -> list[str]:
        return [value, base64.b64encode(value.encode()).decode()]

    secrets = json.dumps(started.secrets)
    others = [o for o in started.objects if o["kind"] != "Secret"]
    assert {o["kind"] for o in others} == {"PersistentVolumeClaim", "Pod"}
    rest = json.dumps(others) + started.spec.model_dump_json()
    for value in values.values():
        assert any(form in secrets for form in forms(value)), value
        assert not any(form in rest for form in forms(value)), value


def test_storage_class_optional() -> None:
    assert "storageClassName" not in manifests.pvc(spec(), "home")["spec"]
    assert manifests.pvc(spec(storage_class="fast"), "home")["spec"]["storageClassName"] == "fast"
