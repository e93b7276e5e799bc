"""`start` without NAME takes the engine's suggestion (the one the editors offer)."""

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
contexts: [{name: dev, context: {cluster: c, user: u, namespace: ns1}}]
current-context: dev
"""


def test_start_without_name_uses_the_branch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q", "-b", "Feature/Login_Fix", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "i"], check=True)
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    env = dict(os.environ, KODAMA_HOME=str(tmp_path / "home"))
    env.pop("KUBECONFIG", None)
    proc = subprocess.run(
        [str(BIN / "kubectl-kodama"), "start", "--dry-run", "-o", "json", "--kubeconfig", str(kc)],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"name": "kodama-feature-login-fix"' in proc.stdout
