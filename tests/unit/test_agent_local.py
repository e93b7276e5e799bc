"""The exec-level agent flows (ensure, attach, logs, state) against a local fake `kubectl exec`.

Same shape as the simulated node of the test control plane, without a cluster: the host's sh
and tmux are "the image". Cluster tests cover the real thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kodama.agent import control
from kodama.agent import launch as agent
from kodama.errors import AgentLaunchFailed
from kodama.events import CancelToken, Event, Reporter
from kodama.k8s.runtime import PodContext
from kodama.models import AgentStateName, SecretFile
from tests.fixtures import fake_kubectl, stand_in_agent
from tests.fixtures.specs import pod_context


@pytest.fixture()
def pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PodContext, Path]]:
    # Short paths: the tmux socket lives under HOME and socket paths are limited.
    # One per test: a killed agent of the previous test may still write its exit record.
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"kh{os.getpid()}-{uuid.uuid4().hex[:6]}"
    shutil.rmtree(root, ignore_errors=True)
    home = root / "home"
    home.mkdir(parents=True)
    (root / "workspace").mkdir()
    monkeypatch.setenv("KODAMA_KUBECTL", str(fake_kubectl.install(tmp_path)))
    monkeypatch.setenv("FAKE_POD_ROOT", str(root))
    tmux = shutil.which("tmux")
    yield pod_context(agent_command=stand_in_agent.COMMAND, agent_kind="claude"), home
    if tmux:
        subprocess.run(
            [tmux, "-S", str(home / ".kodama/tmux.sock"), "kill-server"],
            capture_output=True,
            check=False,
        )
    shutil.rmtree(root, ignore_errors=True)


def events() -> tuple[Reporter, list[Event]]:
    seen: list[Event] = []
    return Reporter(seen.append, "demo"), seen


def wait_state(ctx: PodContext, want: AgentStateName) -> None:
    control.wait_for(lambda: control.read_state(ctx), want, 60, CancelToken(), interval=0.2)


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@needs_tmux
def test_ensure_is_idempotent_and_keeps_one_agent(pod: tuple[PodContext, Path]) -> None:
    ctx, home = pod
    rep, seen = events()
    launched = agent.ensure_agent(ctx, rep, CancelToken())
    # The launch answers with the state of the run it started (start returns it as is).
    assert launched is not None and launched.state != AgentStateName.EXITED
    assert launched.since is not None
    wait_state(ctx, AgentStateName.WAITING)
    first = json.loads((home / ".kodama/agent-run.json").read_text())
    settings = (home / ".claude/settings.json").read_text()
    assert agent.ensure_agent(ctx, rep, CancelToken(), resume=True) is None  # no launch
    assert json.loads((home / ".kodama/agent-run.json").read_text()) == first
    assert (home / ".claude/settings.json").read_text() == settings
    assert [e.step for e in seen if e.kind == "step"] == ["agent"]  # launched once
    state = control.read_state(ctx)
    assert state.message == "Stand-in needs your answer"


@needs_tmux
def test_attach_detach_reattach_same_process(pod: tuple[PodContext, Path]) -> None:
    import pexpect

    ctx, _ = pod
    agent.ensure_agent(ctx, Reporter(lambda e: None, "demo"), CancelToken())
    argv = control.attach_command(ctx, None)
    pids = []
    for answer in ("hi", None):
        child = pexpect.spawn(
            argv[0], argv[1:], dimensions=(40, 140), timeout=20, env=dict(os.environ)
        )
        child.expect(r"STAND-IN READY pid=(\d+)")
        pids.append(child.match.group(1))
        if answer:
            child.expect("QUESTION")
            child.send(answer + "\r")
            child.expect("TURN DONE")
        child.send("\x02d")
        child.expect(pexpect.EOF)
        child.close()
    assert pids[0] == pids[1]
    assert control.read_state(ctx).state == AgentStateName.IDLE


def test_without_tmux_headless_runs_in_background(
    pod: tuple[PodContext, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, home = pod
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (
        "sh",
        "sed",
        "cat",
        "head",
        "tail",
        "date",
        "mv",
        "mkdir",
        "chmod",
        "cksum",
        "tr",
        "cut",
        "grep",
        "sleep",
        "rm",
        "rmdir",
        "wc",
        "setsid",
        "nohup",
        "env",
    ):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    rep, seen = events()
    agent.ensure_agent(ctx, rep, CancelToken())
    assert any("no tmux" in e.message for e in seen)
    assert not (home / ".kodama/agent-run.json").exists()  # interactive waits for attach
    agent.ensure_agent(ctx, rep, CancelToken(), prompt="go exit=2")
    wait_state(ctx, AgentStateName.EXITED)
    st = control.read_state(ctx)
    assert st.exit_code == 2
    out = subprocess.run(control.logs_command(ctx, tail=1), capture_output=True, text=True)
    assert "exited with code 2" in out.stdout
    attach = control.attach_command(ctx, None)
    assert "no tmux" in attach[-4]


def test_logs_follow_ends_with_the_run(pod: tuple[PodContext, Path]) -> None:
    ctx, _ = pod
    agent.ensure_agent(ctx, Reporter(lambda e: None, "demo"), CancelToken(), prompt="p exit=0")
    # The timeout is a guard against a hang: a follow that never ends raises there.
    out = subprocess.run(
        control.logs_command(ctx, follow=True), capture_output=True, text=True, timeout=60
    )
    assert "stand-in step 3 of 3" in out.stdout and "exited with code 0" in out.stdout
    assert control.read_state(ctx).state == AgentStateName.EXITED


def test_first_run_answers_land_in_the_pod_and_the_key_never_leaves_it(
    pod: tuple[PodContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, home = pod
    key = "sk-ant-api03-local-test-key-0123456789abcdefXYZ"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    (home / ".claude.json").write_text(json.dumps({"theme": "dark", "projects": {}}))
    seen_inputs: list[bytes] = []
    real_script = ctx.script

    def spy(script: str, args: object = (), **kw: object) -> subprocess.CompletedProcess[bytes]:
        words = " ".join([script, *args]).encode()  # type: ignore[misc]
        seen_inputs.append(words + (kw.get("input") or b""))  # type: ignore[operator]
        return real_script(script, args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ctx, "script", spy)
    rep, seen = events()
    ctx.spec.agent_command = "sleep 30"
    agent.ensure_agent(ctx, rep, CancelToken())
    data = json.loads((home / ".claude.json").read_text())
    ws = str((home.parent / "workspace").resolve())
    assert data["theme"] == "dark" and data["hasCompletedOnboarding"] is True
    assert data["projects"][ws]["hasTrustDialogAccepted"] is True
    assert data["customApiKeyResponses"]["approved"] == [key[-20:]]
    assert (home / ".claude.json").stat().st_mode & 0o077 == 0
    # What Kodama sent into the pod (script, arguments, stdin) held a placeholder, never the key
    # or its tail.
    assert not any(key[-20:].encode() in sent for sent in seen_inputs)
    # Both files (the hooks' settings.json and ~/.claude.json) went in one exec.
    writes = [sent for sent in seen_inputs if b"claude-write" in sent]
    assert len(writes) == 1 and b"settings" in writes[0] and b"claude.json" in writes[0]
    settings = json.loads((home / ".claude/settings.json").read_text())
    assert "kodama-agent" in json.dumps(settings["hooks"]["SessionStart"])
    # Idempotent: the second ensure approves nothing twice.
    agent.ensure_agent(ctx, rep, CancelToken())
    again = json.loads((home / ".claude.json").read_text())
    assert again["customApiKeyResponses"]["approved"] == [key[-20:]]
    assert not any(e.kind == "warning" for e in seen), [e.message for e in seen]


@needs_tmux
def test_an_agent_that_ends_at_once_fails_the_launch_with_its_words(
    pod: tuple[PodContext, Path],
) -> None:
    ctx, _home = pod
    ctx.spec.agent_command = "no-such-agent-here"
    ctx.spec.agent_kind = "other"
    rep, seen = events()
    with pytest.raises(AgentLaunchFailed) as err:
        agent.ensure_agent(ctx, rep, CancelToken())
    assert "exited at once with code 127" in err.value.message
    assert any('"no-such-agent-here" was not found' in e.message for e in seen)
    # A command that fails on its own is reported with its own last line.
    ctx.spec.agent_command = "sh -c 'echo cannot reach the API >&2; exit 4'"
    with pytest.raises(AgentLaunchFailed) as err:
        agent.ensure_agent(ctx, rep, CancelToken())
    assert "code 4" in err.value.message and "cannot reach the API" in err.value.message
    # Headless: same, from the log.
    with pytest.raises(AgentLaunchFailed) as err:
        agent.ensure_agent(ctx, rep, CancelToken(), prompt="go")
    assert "code 4" in err.value.message


def test_secret_files_under_home_are_links_in_folders_the_agent_owns(
    pod: tuple[PodContext, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, home = pod
    mounted = tmp_path / "files"
    mounted.mkdir()
    (mounted / "f0-token.txt").write_text("tok\n")
    (mounted / "f1-mine").write_text("from the secret\n")
    monkeypatch.setenv("KODAMA_FILES", str(mounted))
    ctx.spec.agent_command = "sleep 30"
    ctx.spec.agent_kind = "other"
    ctx.spec.secret_files = [
        SecretFile(key="f0-token.txt", dest="/home/kodama/.config/tool/token.txt"),
        SecretFile(key="f1-mine", dest="/home/kodama/mine.txt"),
    ]
    (home / "mine.txt").write_text("the user's own\n")
    rep, seen = events()
    agent.ensure_agent(ctx, rep, CancelToken())
    link = home / ".config/tool/token.txt"
    assert link.is_symlink() and link.read_text() == "tok\n"
    assert (home / ".config").stat().st_uid == os.getuid()
    assert (home / "mine.txt").read_text() == "the user's own\n"  # never replaced
    assert any("~/mine.txt exists" in e.message for e in seen if e.kind == "warning")
    agent.ensure_agent(ctx, rep, CancelToken())  # idempotent: the link is simply renewed
    assert link.is_symlink() and link.read_text() == "tok\n"
