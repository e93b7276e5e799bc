"""issue 21: every message one line a user can act on (the parts that need no cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dev, context: {cluster: c, user: u}}, {name: prod, context: {cluster: c, user: u}}]
current-context: dev
"""


def run(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KODAMA_HOME=str(home))
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [str(BIN / "kubectl-kodama"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_choice_option_is_one_line(tmp_path: Path) -> None:
    proc = run("wait", "fix", home=tmp_path)
    assert proc.returncode == 1
    assert one_line(proc) == (
        "error: Missing option '--for'. Choose from: working, waiting, idle, exited "
        "(see `kubectl kodama wait --help`)"
    )


def test_unknown_context_names_the_contexts(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    proc = run("list", "--kubeconfig", str(kc), "--context", "nosuch", home=tmp_path)
    assert proc.returncode == 1
    assert one_line(proc) == (
        f"error: context 'nosuch' does not exist in kubeconfig {kc} (its contexts: dev, prod) "
        "(hint: `kubectl config get-contexts` lists them)"
    )


def test_config_with_two_mistakes_lists_both(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("agent:\n  comand: claude\ntimeout: 0\n")
    proc = run("start", "fix", "--dry-run", home=tmp_path, cwd=tmp_path)
    assert proc.returncode == 1
    assert one_line(proc) == (
        f"error: {tmp_path / 'config.yaml'}: 2 problems: "
        "line 2 agent.comand: unknown key (did you mean command?); "
        "line 3 timeout: Input should be greater than 0"
    )
