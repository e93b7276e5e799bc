"""Shared helpers for cluster tests: run the real CLI as a subprocess against the test plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.messages_api import MessagesApi
from tests.fixtures.repo import make_repo
from tests.fixtures.stand_in_agent import SLEEPER
from tests.testenv.pytest_plugin import SIMULATED_NODE, STATE_DIR


def cli_path() -> str:
    exe = Path(sys.executable).parent / "kubectl-kodama"
    return str(exe) if exe.exists() else "kubectl-kodama"


@dataclass
class Kodama:
    """Runs `kubectl-kodama --kubeconfig K -n NS ...` with its own KODAMA_HOME and cwd."""

    kubeconfig: Path
    namespace: str
    home: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"KODAMA_HOME": str(self.home), "KUBECACHEDIR": str(self.home / "kube-cache")})
        for key in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"):
            env.pop(key, None)
        env.update(self.env)
        return env

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        base = [cli_path(), "--kubeconfig", str(self.kubeconfig)]
        if namespaced:
            base += ["-n", self.namespace]
        return [*base, *args]

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 180,
        input: str | None = None,
        namespaced: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(*args, namespaced=namespaced),
            cwd=self.cwd,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl-kodama {' '.join(args)} exited {proc.returncode}\n{proc.stderr}"
            )
        return proc

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.cwd,
            env={**self.environ(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def write_config(self, text: str) -> None:
        (self.home / "config.yaml").write_text(text)


def poll(fn: Any, timeout: float = 90, interval: float = 0.5) -> Any:
    """Call `fn` until it returns something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not reached in {timeout}s (last: {last!r})")


def as_service_account(k: Kodama, testenv: Any, account: str, kubeconfig: Path) -> Kodama:
    """`k` acting as ServiceAccount `account` of its namespace, through a token kubeconfig."""
    ns = k.namespace
    token = testenv.kubectl("create", "token", account, "-n", ns, "--duration", "1h").stdout
    server = testenv.kubectl(
        "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
    ).stdout
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        f"users: [{{name: sa, user: {{token: '{str(token).strip()}'}}}}]\n"
        f"contexts: [{{name: sa, context: {{cluster: c, user: sa, namespace: {ns}}}}}]\n"
        "current-context: sa\n"
    )
    return Kodama(kubeconfig, ns, k.home, k.cwd)


def session_image(testenv: Any = None) -> str:
    """The image sessions use: the agent image built from images/agent/ on the real node."""
    image = getattr(testenv, "agent_image", None) if testenv is not None else None
    if image is None and testenv is None:
        ref = STATE_DIR / "agent-image"
        image = ref.read_text().strip() if ref.exists() else None
    return str(image or "ghcr.io/kodama-dev/agent:test")


def simulated_placement(testenv: Any) -> dict[str, Any]:
    """Config keys that put a session on the simulated node (host exec, no image).

    For tests whose agent is a host program (the Python stand-in), or that need many pods.
    """
    if not getattr(testenv, "real_node", False):
        return {}
    return {
        "nodeSelector": {"kubernetes.io/hostname": SIMULATED_NODE},
        "tolerations": [
            {"key": "kodama.dev/simulated", "operator": "Exists", "effect": "NoSchedule"}
        ],
    }


def on_simulated_node(testenv: Any) -> str:
    """simulated_placement as config lines, to put before a config's own."""
    placement = simulated_placement(testenv)
    return yaml.safe_dump(placement, sort_keys=False) if placement else ""


def session_config(
    image: str,
    agent: str | None = SLEEPER,
    kind: str = "other",
    *,
    cpu: str = "100m",
    memory: str = "128Mi",
    home: str = "1Gi",
    sync: dict[str, Any] | None = None,
    idle_stop: str | None = None,
    **extra: Any,
) -> str:
    """config.yaml of a test session: small, sync off unless `sync` says; `agent` None: the
    config's default (Claude Code); `extra`: more top-level keys (env, nodeSelector, …)."""
    data: dict[str, Any] = {"image": image}
    if agent is not None:
        data["agent"] = {"command": agent, "kind": kind}
        if idle_stop:
            data["agent"]["idleStop"] = idle_stop
    data["sync"] = {"enabled": False} if sync is None else sync
    data["resources"] = {"cpu": cpu, "memory": memory}
    data["storage"] = {"workspace": "1Gi", "claudeHome": home}
    return yaml.safe_dump({**data, **extra}, sort_keys=False)


def new_kodama(testenv: Any, namespace: str, tmp_path: Path, config: str) -> Kodama:
    """A user with their own KODAMA_HOME (holding `config`) in a fresh checkout."""
    home = tmp_path / "kodama-home"
    home.mkdir()
    k = Kodama(Path(testenv.kubeconfig), namespace, home, make_repo(tmp_path / "repo"))
    k.write_config(config)
    return k


@pytest.fixture
def kodama(testenv: Any, namespace: str, tmp_path: Path) -> Kodama:
    return new_kodama(testenv, namespace, tmp_path, session_config(session_image(testenv)))


def _plane_setting(name: str) -> str:
    """A value of tests/testenv/lib.sh (NAME=value), so the tests follow the plane's layout."""
    text = (Path(__file__).resolve().parents[1] / "testenv" / "lib.sh").read_text()
    for line in text.splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].split("#", 1)[0].strip().strip('"')
    raise LookupError(name)


@pytest.fixture(scope="session")
def messages_api(testenv: Any) -> Iterator[MessagesApi]:
    """A local stand-in for the Anthropic Messages API that session pods can reach.

    On the real node pods reach only the node's own address, so the stub runs in the node's
    network namespace, bound to that address; the tests reach it there from the host.
    """
    if getattr(testenv, "real_node", False):
        netns = _plane_setting("REAL_NETNS")
        api = MessagesApi(
            host=_plane_setting("REAL_NODE_IP"), prefix=["nsenter", f"--net=/run/netns/{netns}"]
        )
    else:
        pytest.skip(
            "the real Claude Code runs in the agent image, on the test plane's real node, which "
            "is not up (KODAMA_TESTENV_REAL_NODE=0 or another cluster)"
        )
    yield api
    api.close()


# The real Claude Code fixture, for the tests of other files that need it (fan-out, usage).
from .test_claude import claude  # noqa: E402, F401
