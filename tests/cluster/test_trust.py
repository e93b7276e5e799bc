"""Issue 16 on the test control plane: what a namespace neighbour, a pod or a repository can make
Kodama do. Objects are crafted with the admin kubeconfig, as anyone allowed to write PVCs in a
shared namespace could."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kodama.k8s import manifests
from kodama.models import SessionSpec

from .conftest import (
    Kodama,
    as_service_account,
    session_config,
    session_image,
)

pytestmark = pytest.mark.cluster


def crafted_pvc(namespace: str, label: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A workspace PVC as Kodama labels it, whose spec annotation says what `spec` says."""
    base = SessionSpec(
        name=label,
        namespace=namespace,
        image="busybox",
        cpu="100m",
        memory="128Mi",
        workspace_size="1Gi",
        home_size="1Gi",
    )
    obj = manifests.pvc(base, "workspace")
    obj["metadata"]["annotations"][manifests.SPEC_ANNOTATION] = json.dumps(
        {**base.to_json_dict(), **spec}
    )
    return obj


def test_a_crafted_pvc_writes_nothing_outside_kodama_home_and_others_still_list(
    kodama: Kodama, testenv: Any, tmp_path: Path
) -> None:
    """Item 2: list rebuilds local records from the cluster; a forged name must not steer them."""
    ns = kodama.namespace
    assert kodama.home.parent == tmp_path
    objs = [
        crafted_pvc(ns, "good", {}),
        # sessions/x/../../../escaped.json is tmp_path/escaped.json, outside KODAMA_HOME
        crafted_pvc(ns, "evil", {"name": "../../../escaped", "namespace": "x"}),
        crafted_pvc(ns, "nul", {"name": "a\u0000b"}),  # made old `list` crash for everyone
        crafted_pvc(ns, "spoof", {"name": "good", "image": "evil.example/agent"}),
    ]
    testenv.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1",
                    "kind": "List", "items": objs}))  # fmt: skip
    listed = kodama.run("list", "-o", "json")
    names = [(s["name"], s["image"]) for s in json.loads(listed.stdout)["items"]]
    assert names == [("good", "busybox")], listed.stderr
    assert not (tmp_path / "escaped.json").exists() and not (tmp_path / "escaped.yaml").exists()
    outside = [
        p
        for pattern in ("*.json", "*.yaml")
        for p in tmp_path.rglob(pattern)
        if kodama.home not in p.parents and p.name != "config.yaml"
    ]
    assert outside == []
    records = sorted(
        p.relative_to(kodama.home).as_posix()
        for p in (kodama.home / "sessions").rglob("*.*")
        if p.name != ".lock"
    )
    assert records == ["sessions/good.yaml"], records
    # `get` of a forged session says what is wrong with it, in one line.
    got = kodama.run("get", "evil", check=False)
    assert got.returncode == 1 and "spec annotation is invalid" in got.stderr, got.stderr


def in_pod(k: Kodama, name: str, script: str) -> None:
    k.run("attach", name, "--", "sh", "-c", f'cd "$KODAMA_WORKSPACE" && {script}')


def test_sync_pull_keeps_git_and_local_changes(kodama: Kodama, testenv: Any) -> None:
    """Item 1: a prompt-injected agent writes `.GIT/config`; the user has uncommitted work."""
    k = kodama
    k.run("start", "pull", timeout=300)
    try:
        config = (k.cwd / ".git" / "config").read_text()
        in_pod(
            k,
            "pull",
            "mkdir -p .GIT && printf '[core]\\n\\tfsmonitor = touch /tmp/x\\n' > .GIT/config",
        )
        bad = k.run("sync", "pull", "pull", check=False)
        assert bad.returncode == 1, bad.stderr
        assert bad.stderr.startswith("error: sync pull: refusing '.GIT/config'"), bad.stderr
        assert (k.cwd / ".git" / "config").read_text() == config
        assert not (k.cwd / ".GIT").exists()
        in_pod(k, "pull", "rm -rf .GIT && echo pod > README.md")
        (k.cwd / "README.md").write_text("my uncommitted edit\n")
        dirty = k.run("sync", "pull", "pull", check=False)
        assert dirty.returncode == 1 and "README.md" in dirty.stderr, dirty.stderr
        assert "--force" in dirty.stderr
        assert (k.cwd / "README.md").read_text() == "my uncommitted edit\n"
        k.run("sync", "pull", "pull", "--force")
        assert (k.cwd / "README.md").read_text() == "pod\n"
    finally:
        k.run("delete", "pull", "--yes", check=False)


def test_resume_never_wipes_a_workspace_that_lost_its_marker(kodama: Kodama, testenv: Any) -> None:
    """Item 3: the agent commits, then drops kodama.ready; resume warns and keeps everything."""
    k = kodama
    k.run("start", "wipe", timeout=300)
    try:
        in_pod(k, "wipe", "echo work > agent.txt && git add -A && git -c user.name=a "
               "-c user.email=a@a commit -qm 'agent work' && git config --unset kodama.ready")  # fmt: skip
        head = k.run("attach", "wipe", "--", "git", "-C", ".", "log", "-1", "--format=%s")
        k.run("stop", "wipe")
        out = k.run("resume", "wipe", timeout=300)
        assert "not filled again" in out.stderr, out.stderr
        after = k.run("attach", "wipe", "--", "git", "-C", ".", "log", "-1", "--format=%s")
        assert after.stdout == head.stdout == "agent work\n"
        assert k.json("get", "wipe")["status"] == "Running"
    finally:
        k.run("delete", "wipe", "--yes", check=False)


def test_delete_keep_data_then_resume(kodama: Kodama, testenv: Any, tmp_path: Path) -> None:
    """Item 9: --keep-data says what the deleted Secrets held; resume starts without them."""
    k = kodama
    env_file = tmp_path / "agent.env"
    env_file.write_text("FOO=bar\n")
    k.run("start", "keep", "--env-file", str(env_file), timeout=300)
    out = k.run("delete", "keep", "--keep-data", "--yes")
    assert "not kept: --env-file FOO" in out.stderr, out.stderr
    assert "bar" not in out.stderr
    assert testenv.managed(k.namespace) == [
        "persistentvolumeclaim/kodama-keep-home",
        "persistentvolumeclaim/kodama-keep-workspace",
    ]
    back = k.run("resume", "keep", "-o", "json", timeout=300)
    assert json.loads(back.stdout)["status"] == "Running"
    assert "starting without: --env-file FOO" in back.stderr
    pod = json.loads(
        testenv.kubectl("get", "pod", "kodama-keep", "-n", k.namespace, "-o", "json").stdout
    )
    assert "envFrom" not in pod["spec"]["containers"][0]
    k.run("delete", "keep", "--yes")
    assert testenv.managed(k.namespace) == []


ROLE_WITHOUT_DELETE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: no-delete}
rules:
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: no-delete}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-delete}
subjects: [{kind: ServiceAccount, name: limited}]
"""


def limited_kodama(k: Kodama, testenv: Any, tmp_path: Path) -> Kodama:
    ns = k.namespace
    testenv.kubectl("create", "serviceaccount", "limited", "-n", ns)
    testenv.kubectl("apply", "-n", ns, "-f", "-", input=ROLE_WITHOUT_DELETE)
    return as_service_account(k, testenv, "limited", tmp_path / "limited.kubeconfig")


def test_a_failed_rollback_is_reported_as_failed(
    kodama: Kodama, testenv: Any, tmp_path: Path
) -> None:
    """Item 9: may create PVCs but neither delete them nor create pods: start fails, and the
    rollback that cannot delete the PVCs says so instead of passing for done."""
    limited = limited_kodama(kodama, testenv, tmp_path)
    proc = limited.run("start", "rb", check=False)
    assert proc.returncode == 1
    assert "rolling back rb failed" in proc.stderr, proc.stderr
    assert "kubectl kodama delete rb" in proc.stderr
    assert "persistentvolumeclaim/kodama-rb-workspace" in testenv.managed(kodama.namespace)
    kodama.run("delete", "rb", "--yes")


@pytest.fixture
def with_mutagen(kodama: Kodama, mutagen_bin: Any, testenv: Any) -> Iterator[Kodama]:
    kodama.env["PATH"] = f"{mutagen_bin}{os.pathsep}{os.environ['PATH']}"
    kodama.write_config(session_config(session_image(testenv), sync={"enabled": True}))
    try:
        yield kodama
    finally:
        for name in ("one", "two"):
            kodama.run("delete", name, "--yes", check=False)
        env = dict(kodama.environ(), MUTAGEN_DATA_DIRECTORY=str(kodama.home / "mutagen"))
        subprocess.run(["mutagen", "daemon", "stop"], env=env, capture_output=True, check=False)


def mutagen_sessions(k: Kodama) -> list[str]:
    env = dict(k.environ(), MUTAGEN_DATA_DIRECTORY=str(k.home / "mutagen"))
    env["MUTAGEN_DISABLE_AUTOSTART"] = "1"
    out = subprocess.run(["mutagen", "sync", "list", "--template", "{{ json . }}"], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    return sorted(s["name"] for s in json.loads(out.stdout or "[]"))


def test_two_sessions_never_sync_into_the_same_checkout(with_mutagen: Kodama) -> None:
    """Item 10: the second session starts, but its sync is refused and says why."""
    k = with_mutagen
    first = k.run("start", "one", timeout=300)
    assert "File sync" in first.stderr, first.stderr
    second = k.run("start", "two", timeout=300)
    assert "already synced two-way with session one" in second.stderr, second.stderr
    assert mutagen_sessions(k) == [f"kodama-{k.namespace}-one"]
    again = k.run("sync", "start", "two", check=False)
    assert again.returncode == 1 and "sync stop one" in again.stderr, again.stderr
    elsewhere = k.cwd.parent / "two-checkout"
    elsewhere.mkdir()
    k.run("sync", "start", "two", "--local", str(elsewhere))
    assert mutagen_sessions(k) == [f"kodama-{k.namespace}-one", f"kodama-{k.namespace}-two"]


def test_emptying_the_checkout_but_git_empties_the_workspace_but_git(
    with_mutagen: Kodama,
) -> None:
    """Item 10, the documented risk (README, "File sync"): mutagen halts when the checkout folder
    is deleted or left entirely empty, not when `.git` is all that is left. The deletions reach
    the pod; the committed files are back with `git checkout` in the pod."""
    k = with_mutagen
    (k.cwd / "b.txt").write_text("two\n")
    k.run("start", "one", timeout=300)
    k.run("sync", "flush", "one")
    for p in k.cwd.iterdir():
        if p.name != ".git":
            p.unlink()
    k.run("sync", "flush", "one")
    listing = k.run("attach", "one", "--", "sh", "-c", 'ls -A "$KODAMA_WORKSPACE"').stdout
    assert listing.split() == [".git"]
    k.run("attach", "one", "--", "sh", "-c", 'cd "$KODAMA_WORKSPACE" && git checkout -- .')
    assert k.run("attach", "one", "--", "cat", "README.md").stdout == "hello\n"
