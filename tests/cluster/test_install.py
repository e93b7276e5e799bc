"""README's install: `pipx install .`, then kubectl finds and runs the plugin.

About 20 s: the dependencies come from pip's cache (pipx needs their metadata, so --no-deps is
not an option). The package data `image build` and the in-pod scripts need is checked too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]


def test_kubectl_plugin_list_finds_kodama_after_pipx_install(tmp_path: Path) -> None:
    pipx = shutil.which("pipx", path=str(Path(sys.executable).parent)) or shutil.which("pipx")
    if pipx is None:
        pytest.skip("pipx is not installed (it is in the dev extras: make dev)")
    src = tmp_path / "src"
    # A copy without the work tree's .testenv/.venv: pip builds from a clean tree.
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".testenv", "node_modules", "*.egg-info", "build"
        ),
    )
    bin_dir = tmp_path / "bin"
    env = dict(
        os.environ,
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(tmp_path / "man"),
        PATH=f"{bin_dir}:/usr/bin:/bin",
    )
    proc = subprocess.run(
        [pipx, "install", str(src)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = subprocess.run(
        ["kubectl", "plugin", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert str(bin_dir / "kubectl-kodama") in listed.stdout, listed.stdout + listed.stderr
    assert "warning" not in listed.stderr.lower(), listed.stderr
    version = subprocess.run(
        ["kubectl", "kodama", "version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert version.stdout.startswith("kodama "), version.stderr
    python = tmp_path / "pipx" / "venvs" / "kodama" / "bin" / "python"
    check = (
        "from importlib import resources as r; k = r.files('kodama');"
        "print(k.joinpath('agent_image', 'Dockerfile').is_file(),"
        " k.joinpath('incluster', 'kodama-agent').is_file())"
    )
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
