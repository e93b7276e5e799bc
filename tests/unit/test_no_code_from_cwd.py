"""Kodama's own processes never import code from the directory they are started in.

A checkout may hold a `kodama/` folder (or any module named like ours): with the current
directory on the import path, `python -m kodama...` would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHIMS = Path(__file__).resolve().parents[2] / "kodama" / "sync" / "shims"


def hostile_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A folder whose `kodama` package leaves a marker file when imported."""
    root = tmp_path / "checkout"
    marker = tmp_path / "imported-from-cwd"
    for pkg in ("kodama", "kodama/sync/shims", "kodama/cli"):
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (root / "kodama/sync/shims/__main__.py").write_text("")
    (root / "kodama/cli/main.py").write_text("")
    return root, marker


@pytest.mark.parametrize("shim", ["ssh", "scp"])
def test_mutagen_shims_ignore_the_current_directory(tmp_path: Path, shim: str) -> None:
    root, marker = hostile_checkout(tmp_path)
    env = {**os.environ, "KODAMA_PYTHON": sys.executable, "KODAMA_HOME": str(tmp_path / "h")}
    proc = subprocess.run(
        ["sh", str(SHIMS / shim), "not-a-kodama-host", "true"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 255 and proc.stderr.startswith(f"kodama-{shim}: ")  # the real shim
    assert not marker.exists()


def test_lsp_attach_fallback_ignores_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kodama_lsp.features.commands import kodama_cli

    root, marker = hostile_checkout(tmp_path)
    python = sys.executable
    # An interpreter with no console scripts beside it, and none on PATH: the `-m` fallback.
    bare = tmp_path / "bin" / "python3"
    bare.parent.mkdir()
    bare.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(bare))
    monkeypatch.setenv("PATH", f".:{tmp_path / 'bin'}")
    (root / "kubectl-kodama").write_text("#!/bin/sh\ntouch " + str(marker) + "\n")
    (root / "kubectl-kodama").chmod(0o755)
    monkeypatch.chdir(root)
    argv = kodama_cli()
    assert argv[0] == str(bare)
    proc = subprocess.run(
        [python if a == str(bare) else a for a in argv] + ["version"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("kodama ")
    assert not marker.exists()
