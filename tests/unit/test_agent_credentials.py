"""The credential delivery path: environment/file -> Secret -> secretKeyRef, never a literal."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from kodama.engine import SessionEngine
from kodama.k8s import manifests
from kodama.k8s.cluster import KubeTarget
from kodama.models import StartRequest
from kodama.store import Store

TOKEN = "sk-ant-test-Zm9vYmFy-never-print-me"
KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


@pytest.fixture()
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SessionEngine:
    home = tmp_path / "kodama-home"
    home.mkdir()
    monkeypatch.setenv("KODAMA_HOME", str(home))
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", TOKEN)
    work = tmp_path / "work"
    work.mkdir()
    return SessionEngine(KubeTarget(namespace="dev"), cwd=work, store=Store(home))


def test_env_credential_goes_to_secret_and_pod_references_it(engine: SessionEngine) -> None:
    plan = engine.plan_start(StartRequest(name="cred"))
    (secret,) = [o for o in plan.objects if o["kind"] == "Secret"]
    assert secret["metadata"]["name"] == manifests.credentials_secret_name("cred")
    assert base64.b64decode(secret["data"]["ANTHROPIC_API_KEY"]).decode() == TOKEN
    pod = next(o for o in plan.objects if o["kind"] == "Pod")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["ANTHROPIC_API_KEY"] == {
        "name": "ANTHROPIC_API_KEY",
        "valueFrom": {
            "secretKeyRef": {"name": "kodama-cred-credentials", "key": "ANTHROPIC_API_KEY"}
        },
    }
    for obj in plan.objects:
        if obj["kind"] != "Secret":
            text = json.dumps(obj)
            assert TOKEN not in text
            assert base64.b64encode(TOKEN.encode()).decode() not in text
    assert TOKEN not in plan.spec.model_dump_json()


def test_credentials_file_wins_over_environment(
    engine: SessionEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds.env"
    creds.write_text("CLAUDE_CODE_OAUTH_TOKEN=oauth-from-file\nUNRELATED=x\n")
    cfg = Path(str(tmp_path / "kodama-home" / "config.yaml"))
    cfg.write_text(f"credentials:\n  file: {creds}\n")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    engine._loaded = None
    plan = engine.plan_start(StartRequest(name="cred"))
    (secret,) = [o for o in plan.objects if o["kind"] == "Secret"]
    assert set(secret["data"]) == {"CLAUDE_CODE_OAUTH_TOKEN"}
    assert plan.spec.credential_keys == ["CLAUDE_CODE_OAUTH_TOKEN"]


@pytest.mark.parametrize(
    "dest",
    [
        "/home/kodama/.config/gh/hosts.yml",
        "/x/a b/ü.json",
        "/etc/..hidden",
        "/weird/$(rm -rf)/;name",
        "/trailing/slash/",
        "/" + "d/" * 60 + "x" * 300,
    ],
)
def test_secret_file_keys_are_valid_for_any_destination(
    engine: SessionEngine, tmp_path: Path, dest: str
) -> None:
    src = tmp_path / "src.txt"
    src.write_text("secret-file-content")
    plan = engine.plan_start(StartRequest(name="files", secret_files=[f"{src}:{dest}"]))
    files = next(o for o in plan.objects if o["metadata"]["name"].endswith("-files"))
    (key,) = files["data"]
    assert KEY_RE.match(key) and len(key) <= 253
    pod = next(o for o in plan.objects if o["kind"] == "Pod")
    mounts = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m.get("subPath")]
    if dest.startswith("/home/kodama/"):
        assert mounts == []  # linked into HOME by the ensure step instead
    else:
        assert mounts == [
            {"name": "kodama-files", "mountPath": dest, "subPath": key, "readOnly": True}
        ]
    assert "secret-file-content" not in json.dumps(pod)


def test_two_files_with_the_same_basename_get_distinct_keys(
    engine: SessionEngine, tmp_path: Path
) -> None:
    src = tmp_path / "s"
    src.write_text("x")
    plan = engine.plan_start(
        StartRequest(name="files", secret_files=[f"{src}:/a/config.json", f"{src}:/b/config.json"])
    )
    files = next(o for o in plan.objects if o["metadata"]["name"].endswith("-files"))
    assert len(files["data"]) == 2


def test_dotenv_files_are_read_without_interpolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kodama import plan
    from kodama.config import Config

    monkeypatch.setenv("LOCAL_ONLY_SECRET", "do-not-ship")
    env = tmp_path / "agent.env"
    env.write_text("A=${LOCAL_ONLY_SECRET}\nB=plain\n")
    got = {k: base64.b64decode(v).decode() for k, v in plan.env_file(str(env)).items()}
    assert got == {"A": "${LOCAL_ONLY_SECRET}", "B": "plain"}
    creds = tmp_path / "creds.env"
    creds.write_text("ANTHROPIC_API_KEY=${LOCAL_ONLY_SECRET}\n")
    cfg = Config.model_validate({"credentials": {"file": str(creds), "fromEnv": False}})
    data = plan.credentials(cfg)
    assert base64.b64decode(data["ANTHROPIC_API_KEY"]).decode() == "${LOCAL_ONLY_SECRET}"
