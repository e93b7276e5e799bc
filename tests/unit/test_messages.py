"""issue 21: every message one line a user can act on (the parts that need no cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_kubectl_noise_is_recognised_and_the_rest_kept() -> None:
    from kodama.k8s.kubectl import is_kubectl_noise, meaningful

    noise = [
        "E1130 05:14:47.123456    4242 websocket.go:296] Unknown stream id 1, discarding message",
        "W0102 10:00:00.5   1 reflector.go:12] watch ended",
        "command terminated with exit code 7",
    ]
    assert all(is_kubectl_noise(line) for line in noise)
    kept = ["fatal: not a git repository", "E1130 is a fine name for a file", "exit code 7"]
    assert not any(is_kubectl_noise(line) for line in kept)
    assert meaningful("\n".join([noise[0], kept[0], noise[2], ""]).encode()) == [kept[0]]


def test_stderr_filter_forwards_only_what_the_user_should_see(tmp_path: Path) -> None:
    from kodama.k8s.kubectl import StderrFilter

    script = (
        "import sys; sys.stderr.write('remote says hi\\n"
        "E1130 05:14:47.123456 1 websocket.go:296] Unknown stream id 1, discarding message\\n"
        "command terminated with exit code 7\\n'); sys.exit(7)"
    )
    out = tmp_path / "err"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
        assert proc.stderr is not None
        errors = StderrFilter(proc.stderr, sink)
        assert proc.wait() == 7
        assert errors.join() == ["remote says hi"]
    assert out.read_text() == "remote says hi\n"


def test_logs_errors_are_one_line() -> None:
    from kodama.agent.control import NO_LOG_EXIT, logs_error

    err = logs_error("fix", NO_LOG_EXIT, [])
    assert err.message == (
        "session fix has no headless run log: its agent was not started with --prompt"
    )
    assert err.hint == "`kubectl kodama attach fix` opens the agent's terminal"
    assert logs_error("fix", 1, ["tail: boom"]).message == (
        "cannot read the log of session fix: tail: boom"
    )


def test_sync_state_says_connected_once() -> None:
    from kodama.cli.sync_cmds import render_status
    from kodama.models import SyncStatus

    st = SyncStatus(name="fix", state="paused", activity="disconnected", connected=False)
    assert "State:       paused (disconnected)\n" in render_status(st)
    st = SyncStatus(name="fix", state="watching", activity="watching", connected=True)
    assert "State:       watching, connected\n" in render_status(st)


def test_delete_question_reads_once(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, KODAMA_HOME=str(tmp_path))
    child = pexpect.spawn(str(BIN / "kubectl-kodama"), ["delete", "fix"], env=env, timeout=30)
    child.expect_exact(
        "Delete session fix with its pod, Secrets and PVCs (all its data)? [y/N]: "
    )
    child.sendline("n")
    child.expect_exact("error: aborted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    child = pexpect.spawn(
        str(BIN / "kubectl-kodama"), ["delete", "fix", "--keep-data"], env=env, timeout=30
    )
    child.expect_exact(
        "Delete the pod and Secrets of session fix, keeping its PVCs (its data)? [y/N]: "
    )
    child.sendline("n")
    child.expect(pexpect.EOF)


def _complete_in_bash(setup: str, words: list[str], function: str) -> list[str]:
    script = (
        f"{setup}\nsource <({BIN / 'kubectl-kodama'} completion bash)\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f'{function}; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return [w for w in proc.stdout.splitlines() if w]


def test_bash_completion_completes_kubectl_kodama_and_kubectl_dash_kodama() -> None:
    """issue 21: `completion bash` completed only `kubectl-kodama`."""
    plain = _complete_in_bash("", ["kubectl-kodama", "st"], "_kubectl_kodama")
    assert plain == ["start", "stop"]
    via_kubectl = _complete_in_bash("", ["kubectl", "kodama", "st"], "_kubectl_kodama_kubectl")
    assert via_kubectl == ["start", "stop"]
    values = _complete_in_bash(
        "", ["kubectl", "kodama", "wait", "x", "--for", ""], "_kubectl_kodama_kubectl"
    )
    assert values == ["working", "waiting", "idle", "exited"]
    # kubectl's own completion, loaded before ours, still completes everything else.
    others = _complete_in_bash(
        "_k() { COMPREPLY=(from-kubectl); }; complete -F _k kubectl",
        ["kubectl", "ver"],
        "_kubectl_kodama_kubectl",
    )
    assert others == ["from-kubectl"]


def test_kubectl_runs_the_completion_hook() -> None:
    """kubectl >= 1.26 runs `kubectl_complete-kodama WORDS… INCOMPLETE` for plugin arguments."""
    import shutil

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the hook is checked by the bash test only")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [kubectl, "__complete", "kodama", "st"], capture_output=True, text=True, env=env
    )
    names = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert names == ["start", "stop", ":4"]


def test_sync_last_error_without_kubectl_lines() -> None:
    from kodama.sync import session as sync

    doc = {
        "status": "connecting-beta",
        "lastError": "unable to connect to beta: kodama-ssh: pod is not running\n"
        "command terminated with exit code 1",
    }
    st = sync.parse_status("s", doc)
    assert st.last_error == "unable to connect to beta: kodama-ssh: pod is not running"
