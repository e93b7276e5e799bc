"""Issues 4 and 11 on the test control plane: the agent in the pod and its state.

The simulated node runs exec'd commands on this host, so the host's sh, tmux and git are "the
image" and tests/fixtures/stand_in_agent.py stands in for Claude Code (agent.kind: claude): it
reads the hooks Kodama registered in $HOME/.claude/settings.json and fires them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kodama.models import AgentStateName

from ..fixtures import stand_in_agent
from ..fixtures.pod_processes import kill_namespace_processes, volumes_of
from .conftest import (
    Kodama,
    new_kodama,
    poll,
    session_config,
    session_image,
    simulated_placement,
)

pytestmark = pytest.mark.cluster

QUESTION = "QUESTION: what is your answer?"
HELPER = 'sh "$HOME/.kodama/bin/kodama-agent"'


@pytest.fixture
def agent_env(testenv: Any, namespace: str, tmp_path: Path) -> Iterator[Kodama]:
    # The Python stand-in is a host program: these sessions run on the simulated node.
    config = session_config(
        "busybox", stand_in_agent.COMMAND, "claude", **simulated_placement(testenv)
    )
    k = new_kodama(testenv, namespace, tmp_path, config)
    yield k
    if testenv.simulated:
        kill_namespace_processes(volumes_of(testenv, namespace))


def in_pod(k: Kodama, name: str, script: str, check: bool = True) -> str:
    return k.run("attach", name, "--", "sh", "-c", script, check=check).stdout


def agent_of(k: Kodama, name: str) -> dict[str, Any]:
    return dict(k.json("get", name)["agent"])


def send_keys(k: Kodama, name: str, *keys: str) -> None:
    quoted = " ".join("'" + key.replace("'", "'\\''") + "'" for key in keys)
    in_pod(k, name, f"{HELPER} tmux send-keys -t kodama {quoted}")


def screen(k: Kodama, name: str) -> str:
    return in_pod(k, name, f"{HELPER} tmux capture-pane -p -t kodama", check=False)


def test_states_from_hooks_wait_and_settings_merge(agent_env: Kodama, testenv: Any) -> None:
    k = agent_env
    k.run("start", "hooks", "--no-wait")  # the pod, but no ensure step yet
    testenv.kubectl(
        "wait", "pod/kodama-hooks", "-n", k.namespace, "--for=condition=Ready", "--timeout=120s"
    )
    user = {
        "model": "opus",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true # user's own"}]}]},
    }
    k.run(
        "attach",
        "hooks",
        "--",
        "sh",
        "-c",
        'mkdir -p "$HOME/.claude" && cat > "$HOME/.claude/settings.json"',
        input=json.dumps(user),
    )
    k.run("resume", "hooks")  # finishes the start: ships the repo, registers hooks, launches

    st = poll(lambda: (a := agent_of(k, "hooks"))["state"] == "waiting" and a)
    assert st["message"] == "Stand-in needs your answer"
    assert st["since"]

    settings = json.loads(in_pod(k, "hooks", 'cat "$HOME/.claude/settings.json"'))
    assert settings["model"] == "opus"
    stop_cmds = [h["command"] for g in settings["hooks"]["Stop"] for h in g["hooks"]]
    assert "true # user's own" in stop_cmds
    assert sum("kodama-agent" in c for c in stop_cmds) == 1
    k.run("resume", "hooks")  # again: idempotent, the running agent is left alone
    again = json.loads(in_pod(k, "hooks", 'cat "$HOME/.claude/settings.json"'))
    assert again == settings

    timed_out = k.run("wait", "hooks", "--for=idle", "--timeout=2s", check=False)
    assert timed_out.returncode == 1
    want = "timed out after 2s waiting for the agent of hooks to be idle (it is waiting)"
    assert want in timed_out.stderr

    waiter = k.popen("wait", "hooks", "--for=idle", "--timeout=60s")
    time.sleep(1)
    assert waiter.poll() is None  # still waiting: the agent is waiting for us
    send_keys(k, "hooks", "forty-two", "Enter")
    t0 = time.monotonic()
    out, err = waiter.communicate(timeout=60)
    print(f"wait --for=idle returned {time.monotonic() - t0:.2f}s after the answer")
    assert waiter.returncode == 0, err
    assert "idle" in out
    assert agent_of(k, "hooks")["state"] == "idle"
    assert "ANSWER: forty-two" in screen(k, "hooks")

    send_keys(k, "hooks", "exit 7", "Enter")
    done = k.run("wait", "hooks", "--for=exited", "--timeout=60s")
    assert "exited(7)" in done.stdout
    st = agent_of(k, "hooks")
    assert st["state"] == "exited" and st["exitCode"] == 7
    assert "exited(7)" in k.run("list").stdout
    failed = k.run("wait", "hooks", "--for=idle", "--timeout=5s", check=False)
    assert failed.returncode == 1 and "exited with code 7" in failed.stderr


def test_attach_through_a_terminal_detach_and_reattach(agent_env: Kodama) -> None:
    import pexpect

    k = agent_env
    k.run("start", "tty")
    poll(lambda: agent_of(k, "tty")["state"] == "waiting")

    screens: list[io.BytesIO] = []

    def spawn() -> Any:
        child = pexpect.spawn(
            k.argv("attach", "tty")[0],
            k.argv("attach", "tty")[1:],
            cwd=str(k.cwd),
            env={**k.environ(), "TERM": "xterm"},
            dimensions=(40, 140),
            timeout=30,
        )
        screens.append(io.BytesIO())
        child.logfile_read = screens[-1]
        return child

    t0 = time.monotonic()
    child = spawn()
    child.expect(r"STAND-IN READY pid=(\d+)")
    first_pid = int(child.match.group(1))
    child.expect(QUESTION)
    print(f"attach latency (command to agent prompt on screen): {time.monotonic() - t0:.2f}s")
    child.send("hello there\r")
    child.expect("ANSWER: hello there")
    child.expect("TURN DONE")
    child.send("\x02d")  # tmux prefix C-b, then d: detach
    child.expect(pexpect.EOF)
    child.close()
    assert agent_of(k, "tty")["state"] == "idle"  # still running after the detach

    run = json.loads(in_pod(k, "tty", 'cat "$HOME/.kodama/agent-run.json"'))
    assert run["pid"] and run["endedAt"] is None

    child = spawn()
    child.expect(f"STAND-IN READY pid={first_pid}")  # the same process, its screen restored
    child.expect("ANSWER: hello there")
    # A dropped connection (the terminal dies) must not end the agent either.
    child.kill(signal.SIGKILL)
    child.close(force=True)
    time.sleep(1)
    again = json.loads(in_pod(k, "tty", 'cat "$HOME/.kodama/agent-run.json"'))
    assert again["pid"] == run["pid"] and again["endedAt"] is None
    assert agent_of(k, "tty")["state"] == "idle"

    child = spawn()
    child.expect("TURN DONE")
    child.send("exit 0\r")
    # tmux 3.3 at times keeps the pane of a cleanly exited agent as [dead] (remain-on-exit is
    # "failed"), seen only after a client was killed: detach then. The exit code below is what
    # must hold.
    if child.expect([pexpect.EOF, r"\[dead\]"]) == 1:
        child.send("\x02d")
        child.expect(pexpect.EOF)
    child.close()
    st = poll(lambda: (a := agent_of(k, "tty"))["state"] == "exited" and a)
    assert st["exitCode"] == 0
    # issue 21: kubectl's own lines (websocket E-lines on detach, "command terminated") never
    # reach the terminal.
    for seen in screens:
        text = seen.getvalue().decode(errors="replace")
        assert not re.search(r"(?m)^[IWEF]\d{4} \d\d:\d\d|command terminated with exit", text)


def test_attach_runs_commands_with_their_exit_codes(agent_env: Kodama) -> None:
    k = agent_env
    k.run("start", "cmds")
    assert k.run("attach", "cmds", "--", "false", check=False).returncode == 1
    assert k.run("attach", "cmds", "--", "sh", "-c", "exit 7", check=False).returncode == 7
    assert k.run("attach", "cmds", "--", "cat", "README.md").stdout == "hello\n"


def test_headless_prompt_log_exit_code_and_follow(agent_env: Kodama) -> None:
    k = agent_env
    t0 = time.monotonic()
    k.run("start", "headless", "--prompt", "fix everything exit=3")
    follow = k.run("logs", "headless", "-f", timeout=60)
    print(f"start --prompt + logs -f until the agent exited: {time.monotonic() - t0:.2f}s")
    assert "stand-in step 1 of 3 for: fix everything exit=3" in follow.stdout
    assert "stand-in step 3 of 3" in follow.stdout
    assert "== result (error, 3.0s): stand-in done" in follow.stdout
    assert re.search(r"== \S+ exited with code 3", follow.stdout)
    st = agent_of(k, "headless")
    assert st["state"] == "exited" and st["exitCode"] == 3
    run = json.loads(in_pod(k, "headless", 'cat "$HOME/.kodama/agent-run.json"'))
    assert run["mode"] == "prompt" and run["startedAt"] and run["endedAt"] and run["exitCode"] == 3
    tail = k.run("logs", "headless", "--tail", "1").stdout.strip().splitlines()
    assert len(tail) == 1 and "exited with code 3" in tail[0]
    assert '"type": "result"' in k.run("logs", "headless", "--raw").stdout
    assert k.run("wait", "headless", "--for=exited", "--timeout=5s").returncode == 0


def test_resume_continues_the_conversation(agent_env: Kodama, testenv: Any) -> None:
    if not testenv.simulated:
        pytest.skip("kills the pod's processes on the host: simulated node only")
    k = agent_env
    k.run("start", "cont")
    poll(lambda: QUESTION in screen(k, "cont"))
    assert "continue=0" in screen(k, "cont")
    # Claude Code keeps conversations under ~/.claude/projects: pretend one exists.
    in_pod(
        k,
        "cont",
        'mkdir -p "$HOME/.claude/projects/-workspace" && echo {} > "$HOME/.claude/projects/-workspace/c.jsonl"',
    )
    k.run("stop", "cont")
    kill_namespace_processes(volumes_of(testenv, k.namespace))  # the pod's processes end with it
    k.run("resume", "cont")
    poll(lambda: "continue=1" in screen(k, "cont"))


def test_resume_does_not_rerun_a_finished_headless_job(agent_env: Kodama, testenv: Any) -> None:
    """issue 21: a headless run of another agent is a job; resume must not run it again."""
    k = agent_env
    k.write_config(
        f"image: {session_image(testenv)}\nagent:\n  command: sh -c 'echo ran >> \"$HOME/runs\"; cat'\n"
        "  kind: other\nsync:\n  enabled: false\n"
    )
    k.run("start", "job", "--prompt", "do it once")
    k.run("wait", "job", "--for=exited", "--timeout=60s")
    k.run("stop", "job")
    if testenv.simulated:
        kill_namespace_processes(volumes_of(testenv, k.namespace))
    resumed = k.run("resume", "job")
    assert (
        "The agent's last run was headless and has ended: it is not started again "
        "(`kubectl kodama logs job` shows that run; attach starts it interactively)"
    ) in resumed.stderr
    assert in_pod(k, "job", 'cat "$HOME/runs"') == "ran\n"
    assert "do it once" in k.run("logs", "job").stdout
    assert agent_of(k, "job")["state"] == "exited"


def test_other_agents_state_is_process_liveness(agent_env: Kodama, testenv: Any) -> None:
    k = agent_env
    k.write_config(
        f"image: {session_image(testenv)}\nagent:\n  command: sh -c 'sleep 20; exit 4'\n  kind: auto\n"
        "sync:\n  enabled: false\nresources:\n  cpu: 100m\n  memory: 128Mi\n"
    )
    k.run("start", "other")
    assert agent_of(k, "other")["state"] == "working"
    assert "[]" in in_pod(k, "other", 'cat "$HOME/.claude/settings.json" 2>/dev/null || echo "[]"')
    done = k.run("wait", "other", "--for=exited", "--timeout=60s")
    assert "exited(4)" in done.stdout


def test_credentials_stay_in_the_secret(agent_env: Kodama, testenv: Any) -> None:
    k = agent_env
    token = "sk-ant-kodama-test-" + base64.b32encode(os.urandom(10)).decode().lower()
    k.env["ANTHROPIC_API_KEY"] = token
    outputs = [
        k.run("start", "cred"),
        k.run("get", "cred", "-o", "yaml"),
        k.run("list", "-o", "wide"),
        k.run("start", "cred2", "--dry-run", "-o", "yaml", check=False),
    ]
    for proc in outputs:
        assert token not in proc.stdout and token not in proc.stderr
    secret = json.loads(
        testenv.kubectl(
            "get", "secret", "kodama-cred-credentials", "-n", k.namespace, "-o", "json"
        ).stdout
    )
    assert base64.b64decode(secret["data"]["ANTHROPIC_API_KEY"]).decode() == token
    pod = testenv.kubectl("get", "pod", "kodama-cred", "-n", k.namespace, "-o", "json").stdout
    assert token not in pod
    env = {e["name"]: e for e in json.loads(pod)["spec"]["containers"][0]["env"]}
    assert (
        env["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "kodama-cred-credentials"
    )
    assert "value" not in env["ANTHROPIC_API_KEY"]
    for path in k.home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    # What the agent's helper writes in the pod (state, logs, settings) holds no secret either.
    leaked = in_pod(k, "cred", f'grep -rl "{token}" "$HOME" || true')
    assert leaked.strip() == ""


def test_state_read_cost(agent_env: Kodama, monkeypatch: pytest.MonkeyPatch) -> None:
    """What get and list pay for the agent state of a Running session (printed, not asserted)."""
    from kodama.engine import SessionEngine
    from kodama.k8s.cluster import KubeTarget
    from kodama.store import Store

    k = agent_env
    k.run("start", "cost")
    poll(lambda: agent_of(k, "cost")["state"] == "waiting")
    monkeypatch.setenv("KUBECACHEDIR", str(k.home / "kube-cache"))
    engine = SessionEngine(
        KubeTarget(str(k.kubeconfig), None, k.namespace), cwd=k.cwd, store=Store(k.home)
    )
    engine.get("cost")
    t0 = time.monotonic()
    for _ in range(10):
        assert engine.get("cost").agent.state == AgentStateName.WAITING
    per = (time.monotonic() - t0) / 10
    print(f"get with its agent state: {per * 1000:.0f} ms")
    t0 = time.monotonic()
    listed = engine.list_sessions()
    print(f"list with 1 running session: {(time.monotonic() - t0) * 1000:.0f} ms")
    assert [(s.name, s.agent.state) for s in listed] == [("cost", AgentStateName.WAITING)]


def test_a_hostile_state_file_breaks_no_other_session(agent_env: Kodama) -> None:
    k = agent_env
    for name in ("good", "evil"):
        k.run("start", name)
    for name in ("good", "evil"):
        poll(lambda n=name: agent_of(k, n)["state"] == "waiting")
    # What a prompt-injected agent can write: a time without a zone, terminal escapes.
    hostile = {
        "state": "waiting",
        "message": "\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2Jowned",
        "since": "2999-01-01T00:00:00",
    }
    k.run(
        "attach",
        "evil",
        "--",
        "sh",
        "-c",
        'cat > "$HOME/.kodama/agent-state.json"',
        input=json.dumps(hostile) + "\n",
    )
    listed = k.run("list", "-o", "wide")
    assert "\x1b" not in listed.stdout
    states = {s["name"]: s["agent"]["state"] for s in k.json("list")["items"]}
    assert states["good"] == "waiting" and "evil" in states
    shown = k.run("get", "evil").stdout
    assert "\x1b" not in shown and "\\x1b]52" in shown
    assert k.run("wait", "good", "--for=waiting", "--timeout=30s").returncode == 0
    waited = k.run("wait", "evil", "--for=waiting", "--timeout=30s")
    assert "\x1b" not in waited.stdout
