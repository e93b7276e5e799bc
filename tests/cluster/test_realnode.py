"""The real node of the test plane (tests/testenv/realnode.sh): kubelet + containerd + runc.

Pods here run the agent image built from images/agent/Dockerfile and pulled from the plane's
own registry, as any cluster node pulls; processes run in containers as the pod's user.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.testenv.pytest_plugin import STATE_DIR, TESTENV_DIR, TestEnv

pytestmark = pytest.mark.cluster

REAL_NODE = "kodama-testenv-real"
NODE_IP = "10.213.0.2"
HOST_SIDE_IP = "10.213.0.1"  # root namespace end of the node's veth: registry, API forwarder
NETNS = "kodama-testenv-real"
CGROUP_ROOT = "kodama-testenv-real"


@pytest.fixture(scope="module")
def real(testenv: TestEnv) -> TestEnv:
    if not testenv.real_node or not testenv.agent_image:
        pytest.skip("no real node in this plane (KODAMA_TESTENV_REAL_NODE=0, or another cluster)")
    return testenv


def restricted_container(name: str, image: str, command: list[str]) -> dict:
    return {
        "name": name,
        "image": image,
        "command": command,
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod_manifest(name: str, image: str, command: list[str], claims: dict[str, str]) -> dict:
    container = restricted_container("agent", image, command)
    container["volumeMounts"] = [{"name": v, "mountPath": path} for v, path in claims.items()]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "fsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [{"name": v, "persistentVolumeClaim": {"claimName": v}} for v in claims],
        },
    }


def apply(env: TestEnv, namespace: str, *objects: dict) -> None:
    env.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def claim(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def pod_json(env: TestEnv, namespace: str, name: str) -> dict:
    return json.loads(env.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)


def wait_ready(env: TestEnv, namespace: str, name: str) -> dict:
    env.kubectl(
        "wait",
        "--for=condition=Ready",
        f"pod/{name}",
        "-n",
        namespace,
        "--timeout=180s",
        timeout=200,
    )
    return pod_json(env, namespace, name)


def exec_sh(env: TestEnv, namespace: str, pod: str, script: str, check: bool = True):
    return env.kubectl("exec", pod, "-n", namespace, "--", "sh", "-c", script, check=check)


def test_real_node_is_ready_with_containerd(real: TestEnv) -> None:
    wide = real.kubectl("get", "nodes", "-o", "wide").stdout
    line = next(ln for ln in wide.splitlines() if ln.startswith(REAL_NODE + " "))
    fields = line.split()
    assert fields[1] == "Ready"
    assert fields[5] == NODE_IP  # INTERNAL-IP
    assert fields[-1].startswith("containerd://")
    taints = real.kubectl(
        "get", "node", "kodama-testenv-node", "-o", "jsonpath={.spec.taints[*].key}"
    ).stdout
    assert "kodama.dev/simulated" in taints.split()


def test_agent_image_pod_on_two_pvcs(real: TestEnv, namespace: str) -> None:
    """Restricted pod, uid 1000, the agent image: tools present, both PVCs writable and kept."""
    assert real.agent_image
    claims = {"ws": "/workspace", "home": "/home/kodama"}
    manifest = pod_manifest(
        "agent",
        real.agent_image,
        ["sh", "-c", "echo agent container up; exec sleep infinity"],
        claims,
    )
    apply(real, namespace, claim("ws"), claim("home"), manifest)
    pod = wait_ready(real, namespace, "agent")
    assert pod["spec"]["nodeName"] == REAL_NODE  # the default placement, no toleration asked

    out = exec_sh(
        real,
        namespace,
        "agent",
        'id -u; command -v tmux; command -v claude; command -v git; claude --version; echo "$HOME"; '
        'echo ws > /workspace/w.txt && echo home > "$HOME/h.txt" && '
        'stat -c "%u %n" /workspace/w.txt "$HOME/h.txt"',
    ).stdout.splitlines()
    assert out[0] == "1000"
    assert [Path(p).name for p in out[1:4]] == ["tmux", "claude", "git"]
    assert "(Claude Code)" in out[4]
    assert out[5] == "/home/kodama"
    assert out[6:] == ["1000 /workspace/w.txt", "1000 /home/kodama/h.txt"]

    logs = real.kubectl("logs", "agent", "-n", namespace).stdout
    assert logs == "agent container up\n"

    real.kubectl("delete", "pod", "agent", "-n", namespace, "--wait=true", timeout=120)
    apply(real, namespace, manifest)
    wait_ready(real, namespace, "agent")
    kept = exec_sh(real, namespace, "agent", 'cat /workspace/w.txt "$HOME/h.txt"').stdout
    assert kept == "ws\nhome\n"


def test_missing_image_fails_to_pull_from_the_registry(real: TestEnv, namespace: str) -> None:
    assert real.agent_image
    registry = real.agent_image.split("/", 1)[0]
    image = f"{registry}/kodama/no-such-image:1"
    manifest = pod_manifest("nopull", image, ["sleep", "infinity"], {})
    apply(real, namespace, manifest)
    deadline = time.monotonic() + 90
    reason, message = "", ""
    while time.monotonic() < deadline:
        statuses = (
            pod_json(real, namespace, "nopull").get("status", {}).get("containerStatuses", [])
        )
        waiting = statuses[0].get("state", {}).get("waiting", {}) if statuses else {}
        reason, message = waiting.get("reason", ""), waiting.get("message", "")
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            break
        time.sleep(0.5)
    assert reason in ("ErrImagePull", "ImagePullBackOff"), (reason, message)
    assert image in message or reason == "ImagePullBackOff"
    events = real.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=nopull",
        "-o",
        "json",
    ).stdout
    assert "not found" in events  # the registry's answer, not a network failure


def test_pods_reach_the_node_ip_and_nothing_else(real: TestEnv, namespace: str) -> None:
    """Containment: the node's own address answers; the root namespace and beyond do not."""
    assert real.agent_image
    registry = real.agent_image.split("/", 1)[0]
    apply(real, namespace, pod_manifest("net", real.agent_image, ["sleep", "infinity"], {}))
    wait_ready(real, namespace, "net")
    api_port = int(
        dict(line.split("=", 1) for line in (STATE_DIR / "ports.env").read_text().splitlines())[
            "APISERVER_PORT"
        ]
    )

    def connect(url: str) -> subprocess.CompletedProcess:
        # curl exit 0 with any HTTP status: a TCP (and TLS) connection was made.
        return exec_sh(
            real,
            namespace,
            "net",
            f"curl -sk -o /dev/null --connect-timeout 3 --max-time 5 {url}",
            check=False,
        )

    assert connect(f"https://{NODE_IP}:10250/healthz").returncode == 0  # the kubelet
    for url in (
        f"http://{registry}/v2/",  # the registry, root side of the veth
        f"https://{HOST_SIDE_IP}:{api_port}/",  # the API server's forwarder
        f"https://127.0.0.1:{api_port}/",  # the pod's own loopback, not the host's
        "http://1.1.1.1/",  # anything beyond the machine
        "http://10.0.2.2/",
    ):
        proc = connect(url)
        assert proc.returncode != 0, f"a pod reached {url}"


# --- down leaves nothing --------------------------------------------------------------------

FIXED_PATHS = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/run/containerd",
    "/var/lib/cni",
)


def _mounts_under(*prefixes: str) -> list[str]:
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if any(target == p or target.startswith(p.rstrip("/") + "/") for p in prefixes):
            found.append(target)
    return found


def _cgroup_dirs() -> list[str]:
    return [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_ROOT}")]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[-1][:1] != "Z"


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.testenv_lifecycle
def test_one_real_node_per_host_and_down_leaves_nothing(real: TestEnv, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("inspecting the host's netns, cgroups and sysctls needs root")
    # Another state folder may not start a second real node: refused before it creates anything.
    other = dict(
        os.environ, KODAMA_TESTENV_STATE=str(tmp_path / "other"), KODAMA_TESTENV_PORT_BASE="29900"
    )
    other.pop("KODAMA_TESTENV_LOCKED", None)
    refused = _run(str(TESTENV_DIR / "up"), env=other)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0
    assert "another plane's real node runs on this host" in refused.stderr
    assert not (tmp_path / "other" / "run").exists()

    real_dir = STATE_DIR / "real"
    sysctls = dict(
        line.split("=", 1) for line in (real_dir / "sysctls").read_text().splitlines() if line
    )
    created = (real_dir / "created-paths").read_text().split()
    pids = {
        name: int((STATE_DIR / "run" / f"{name}.pid").read_text())
        for name in ("registry", "apiserver-forward", "containerd", "kubelet")
    }
    assert all(_alive(pid) for pid in pids.values())
    root_rules = _run("iptables", "-S").stdout
    assert "kdm-" not in root_rules  # containment lives in the node's namespace only

    started = time.monotonic()
    down = _run(
        str(TESTENV_DIR / "realnode.sh"), "down", env={**os.environ, "KODAMA_TESTENV_LOCKED": ""}
    )
    down_secs = time.monotonic() - started
    try:
        assert down.returncode == 0, down.stdout + down.stderr
        assert [name for name, pid in pids.items() if _alive(pid)] == []
        shims = _run("pgrep", "-f", str(real_dir / "containerd.sock")).stdout
        assert shims == ""
        assert (
            _mounts_under(str(real_dir), "/run/netns", "/run/containerd", "/var/lib/kubelet") == []
        )
        assert NETNS not in _run("ip", "netns", "list").stdout
        assert _run("ip", "link", "show", "kdm-real0").returncode != 0
        assert _cgroup_dirs() == []
        assert [p for p in created if Path(p).exists()] == []
        changed = {k: v for k, v in sysctls.items() if _run("sysctl", "-n", k).stdout.strip() != v}
        assert changed == {}
        assert _run("iptables", "-S").stdout == root_rules
        assert not real_dir.exists()
        assert not (STATE_DIR / "agent-image").exists()
        assert not Path("/run/kodama-testenv-real.owner").exists()
        taints = real.kubectl(
            "get", "node", "kodama-testenv-node", "-o", "jsonpath={.spec.taints[*].key}"
        ).stdout
        assert "kodama.dev/simulated" not in taints
    finally:
        started = time.monotonic()
        real.up()
        up_secs = time.monotonic() - started
    assert real.real_node and real.agent_image
    ready = real.kubectl(
        "get", "node", REAL_NODE, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
    ).stdout
    assert ready == "True"
    print(f"\nreal node down {down_secs:.1f}s, up again {up_secs:.1f}s")
