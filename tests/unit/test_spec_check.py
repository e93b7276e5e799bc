"""Issue 16 item 2: the spec on a workspace PVC is input, checked like flags before use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kodama.errors import InvalidInput, KodamaError
from kodama.k8s import manifests
from kodama.k8s.spec_check import InvalidSpec, spec_from_pvc
from kodama.models import SessionSpec
from kodama.store import Store

GOOD = SessionSpec(
    name="s1",
    namespace="team",
    image="ghcr.io/kodama-dev/agent:1.2@sha256:" + "a" * 64,
    cpu="1",
    memory="2Gi",
    workspace_size="10Gi",
    home_size="1Gi",
    env={"FOO": "bar baz"},
    agent_command="claude --model x",
    branch="kodama/s1",
    base_branch="main",
    base_commit="0123456789abcdef0123456789abcdef01234567",
    repo="https://github.com/o/r.git",
)


def pvc_with(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    obj = manifests.pvc(GOOD, "workspace")
    obj["metadata"]["namespace"] = "team"
    obj["metadata"]["annotations"][manifests.SPEC_ANNOTATION] = json.dumps(spec)
    obj["metadata"].update(meta)
    return obj


def good() -> dict[str, Any]:
    return GOOD.to_json_dict()


def test_a_spec_kodama_wrote_is_accepted() -> None:
    assert spec_from_pvc(pvc_with(good())) == GOOD


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("name", "../../../../tmp/pwned", "invalid session name"),
        ("name", "other", "session label"),
        ("namespace", "../..", "invalid namespace"),
        ("namespace", "elsewhere", "namespace"),
        ("image", "-oops", "image"),
        ("image", "busybox\nevil", "image"),
        ("cpu", "lots", "cpu"),
        ("env", {"A B": "x"}, "environment variable"),
        ("agentCommand", " ", "agent command"),
        ("agentKind", "root", "agent kind"),
        ("credentialKeys", ["ssh-privatekey", "kubeconfig"], "credential keys"),
        ("secretFiles", [{"key": "f0-x", "dest": "/home/agent/../../etc/x"}], "secret file"),
        ("secretFiles", [{"key": "../x", "dest": "/x"}], "secret file"),
        ("gitSecret", "Bad Name", "git secret"),
        ("branch", "main:refs/heads/victim", "invalid branch"),
        ("branch", "--upload-pack=x", "invalid branch"),
        ("baseBranch", "--orphan", "base"),
        ("baseCommit", "HEAD~1", "commit id"),
        ("repo", "-oProxyCommand=x:y", "start with '-'"),
        ("repo", "https://x-token-auth:tok@h/r", "credentials"),
        ("tolerations", [{"key": "a", "hostPath": "/"}], "toleration"),
        ("nodeSelector", {"a": "b c"}, "node selector"),
    ],
)
def test_a_tampered_field_is_refused(field: str, value: Any, why: str) -> None:
    spec = {**good(), field: value}
    with pytest.raises(InvalidSpec, match="spec annotation is invalid") as exc:
        spec_from_pvc(pvc_with(spec))
    assert why in exc.value.message


def test_garbage_and_missing_annotations_are_kodama_errors() -> None:
    obj = pvc_with(good())
    obj["metadata"]["annotations"][manifests.SPEC_ANNOTATION] = "{not json"
    with pytest.raises(KodamaError):
        spec_from_pvc(obj)
    del obj["metadata"]["annotations"][manifests.SPEC_ANNOTATION]
    with pytest.raises(KodamaError):
        spec_from_pvc(obj)


def test_the_pvc_must_be_the_sessions_own() -> None:
    with pytest.raises(InvalidSpec, match="session label"):
        spec_from_pvc(pvc_with(good(), name="kodama-other-workspace"))
    with pytest.raises(InvalidSpec, match="namespace"):
        spec_from_pvc(pvc_with(good(), namespace="team2"))


@pytest.mark.parametrize(
    ("ns", "name"), [("team", "../../x"), ("..", "s1"), ("team", "a/b"), ("team", "")]
)
def test_the_store_refuses_names_with_path_separators(tmp_path: Path, ns: str, name: str) -> None:
    store = Store(tmp_path / "home")
    with pytest.raises(InvalidInput):
        store.write(ns, name, {"name": name})
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_start_refuses_what_a_read_back_would_refuse(tmp_path: Path) -> None:
    """A spec `start` writes is always one `list` and `resume` accept (else it would vanish)."""
    from kodama.config import load_config
    from kodama.models import StartRequest
    from kodama.plan import build

    def config(flags: dict[str, Any] | None) -> Any:
        return load_config(tmp_path, flags)

    req = StartRequest(name="s1", image="busybox\u001b[2J")
    with pytest.raises(InvalidInput, match="image"):
        build(req, config=config, namespace="team", cwd=tmp_path)
    ok = build(StartRequest(name="s1"), config=config, namespace="team", cwd=tmp_path)
    assert spec_from_pvc({**ok.objects[0], "metadata": {**ok.objects[0]["metadata"]}}) == ok.spec
