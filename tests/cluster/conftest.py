"""Shared helpers for cluster tests: run the real CLI as a subprocess against the test plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

STANDIN_AGENT = "sh -c 'echo stand-in agent ready; while :; do sleep 3600; done'"


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

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.cwd,
            env=self.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def write_config(self, text: str) -> None:
        (self.home / "config.yaml").write_text(text)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for args in (["config", "user.email", "t@example.com"], ["config", "user.name", "Test"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    (path / "README.md").write_text("hello\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True)
    return path


@pytest.fixture
def kodama(testenv: Any, namespace: str, tmp_path: Path) -> Kodama:
    home = tmp_path / "kodama-home"
    home.mkdir()
    repo = make_repo(tmp_path / "repo")
    k = Kodama(Path(testenv.kubeconfig), namespace, home, repo)
    k.write_config(
        f'image: ghcr.io/kodama-dev/agent:test\nagent:\n  command: "{STANDIN_AGENT}"\n  kind: other\n'
        "sync:\n  enabled: false\nresources:\n  cpu: 100m\n  memory: 128Mi\nstorage:\n  workspace: 1Gi\n  claudeHome: 1Gi\n"
    )
    return k
