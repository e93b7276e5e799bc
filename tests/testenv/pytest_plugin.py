"""pytest fixtures for tests that need a real Kubernetes API server.

By default the session brings up (or reuses) the test control plane of
``tests/testenv/up``. With ``KODAMA_TEST_KUBECONFIG=path`` the same tests run
against that cluster instead; tests needing host exec (``testenv.simulated``)
then skip.

Tests that use these fixtures should be marked ``@pytest.mark.cluster``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.pod_processes import kill_pod_processes

TESTENV_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTENV_DIR.parent.parent
STATE_DIR = Path(os.environ.get("KODAMA_TESTENV_STATE", REPO_ROOT / ".testenv"))
VERSIONS = "k8s-v1.34.4_etcd-v3.6.16_kwok-v0.8.0_mutagen-v0.18.1"  # keep in step with lib.sh
CACHE_ROOT = Path(os.environ.get("KODAMA_TESTENV_CACHE", Path.home() / ".cache" / "kodama-testenv"))
BIN_DIR = CACHE_ROOT / VERSIONS / "bin"

# Once the real node is up, the simulated node carries this taint: pods that need it (host exec,
# many sessions) tolerate it and select it.
SIMULATED_NODE = "kodama-testenv-node"
SIMULATED_TOLERATION = {"key": "kodama.dev/simulated", "operator": "Exists", "effect": "NoSchedule"}
SIMULATED_NODE_SELECTOR = {"kubernetes.io/hostname": SIMULATED_NODE}


@dataclass
class TestEnv:
    """What a test needs to know about the cluster it runs against."""

    __test__ = False  # not a test class, despite the name

    kubeconfig: Path
    simulated: bool  # True: our plane, where exec runs on this host
    volumes: Path | None  # host folder of volumes (simulated only)
    cache_dir: Path
    # Our plane's real node (kubelet + containerd) is up, and pods land on it by default.
    real_node: bool = False
    # The agent image built from images/agent/Dockerfile, in the plane's registry.
    agent_image: str | None = None

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | bytes | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """Run kubectl against this cluster; text in/out unless bytes are given."""
        argv: Sequence[str] = [
            "kubectl",
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]
        return subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=not isinstance(input, bytes),
            check=check,
            timeout=timeout,
        )

    def managed(self, namespace: str) -> list[str]:
        """Every pod, PVC and Secret Kodama manages in `namespace`, as sorted kind/name."""
        proc = self.kubectl(
            "get",
            "pods,pvc,secret",
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/managed-by=kodama",
            "-o",
            "name",
        )
        return sorted(proc.stdout.split())

    def up(self) -> None:
        """(Re)start our plane (and its real node); a no-op when it is healthy."""
        if self.simulated:
            _run_up()
            self.agent_image = _read_agent_image()
            self.real_node = self.agent_image is not None

    def down(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TESTENV_DIR / "down")], capture_output=True, text=True, check=True, timeout=120
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster: needs a Kubernetes API server (the test control plane or KODAMA_TEST_KUBECONFIG)",
    )
    config.addinivalue_line(
        "markers", "testenv_lifecycle: stops and restarts the test control plane; runs last"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that take the plane down run after everything else.
    items.sort(key=lambda item: item.get_closest_marker("testenv_lifecycle") is not None)


def _run_up() -> None:
    proc = subprocess.run([str(TESTENV_DIR / "up")], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"tests/testenv/up failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def testenv() -> TestEnv:
    external = os.environ.get("KODAMA_TEST_KUBECONFIG")
    if external:
        cache = Path(
            os.environ.get(
                "KODAMA_TESTENV_KUBECTL_CACHE", REPO_ROOT / ".testenv" / "kube-cache-external"
            )
        )
        cache.mkdir(parents=True, exist_ok=True)
        return TestEnv(kubeconfig=Path(external), simulated=False, volumes=None, cache_dir=cache)
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    _run_up()
    return TestEnv(
        kubeconfig=STATE_DIR / "kubeconfig",
        simulated=True,
        volumes=STATE_DIR / "volumes",
        cache_dir=STATE_DIR / "kube-cache",
        real_node=(STATE_DIR / "agent-image").exists(),
        agent_image=_read_agent_image(),
    )


def _read_agent_image() -> str | None:
    """The image reference `up` wrote once the real node was Ready (None without one)."""
    try:
        return (STATE_DIR / "agent-image").read_text().strip() or None
    except FileNotFoundError:
        return None


@pytest.fixture
def namespace(testenv: TestEnv, request: pytest.FixtureRequest):
    """A fresh namespace enforcing the `restricted` Pod Security Standard."""
    base = request.node.name.lower().replace("_", "-")
    base = "".join(ch for ch in base if ch.isalnum() or ch == "-")[:40].strip("-")
    name = f"t-{base}-{uuid.uuid4().hex[:6]}"
    manifest = f"""apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    app.kubernetes.io/managed-by: kodama-tests
"""
    testenv.kubectl("apply", "-f", "-", input=manifest)
    # Pods need the default ServiceAccount, which the controller manager adds.
    deadline = time.monotonic() + 30
    while (
        testenv.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0
    ):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    yield name
    testenv.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)
    if testenv.simulated:
        # The node agent ends a pod's host processes with the pod; this is the
        # safety net for what it could not (agent down, a test's leftovers).
        with contextlib.suppress(OSError):
            kill_pod_processes(STATE_DIR, namespace=name)


@pytest.fixture(scope="session")
def mutagen_bin() -> Path:
    """The folder holding mutagen, mutagen-agent and mutagen-agents.tar.gz."""
    wanted = ("mutagen", "mutagen-agent", "mutagen-agents.tar.gz")
    missing = [name for name in wanted if not (BIN_DIR / name).exists()]
    if missing:
        pytest.skip(
            f"mutagen not built in {BIN_DIR} (run tests/testenv/build.sh): missing {', '.join(missing)}"
        )
    return BIN_DIR
