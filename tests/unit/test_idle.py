"""Idle stop: durations, the pod's main process (run here with the host's sh), status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kodama.agent import idle
from kodama.agent.state import helper_script
from kodama.errors import InvalidInput
from kodama.k8s import manifests
from kodama.k8s.status import derive, pod_ended
from kodama.models import SessionSpec, Status
from tests.fixtures.specs import session_spec


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("1h30m", 5400),
        ("45s", 45),
        ("2h", 7200),
        ("90", 90),
        (20, 20),
        ("1d", 86400),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert idle.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["off", "0", "none", ""])
def test_parse_duration_off(text: str) -> None:
    assert idle.parse_duration(text) is None


@pytest.mark.parametrize("text", ["30x", "m", "5m3", "-5m", "1.5h", "3 m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="duration"):
        idle.parse_duration(text, "--idle-stop")


def test_parse_duration_minimum() -> None:
    with pytest.raises(InvalidInput, match="at least 10s"):
        idle.parse_duration("5s", "--idle-stop")


def test_tick_bounds() -> None:
    assert idle.tick(20) == 5
    assert idle.tick(10) == 2
    assert idle.tick(3600) == 30


def spec(**kw: Any) -> SessionSpec:
    return session_spec(name="s", **kw)


def test_pod_without_idle_stop_keeps_the_keepalive() -> None:
    body = manifests.pod(spec())
    assert body["spec"]["restartPolicy"] == "Always"
    assert body["spec"]["containers"][0]["command"] == manifests.KEEPALIVE


def test_pod_with_idle_stop_runs_the_watcher_and_is_not_restarted() -> None:
    body = manifests.pod(spec(idle_stop=1800))
    assert body["spec"]["restartPolicy"] == "OnFailure"
    cmd = body["spec"]["containers"][0]["command"]
    assert cmd[:2] == ["/bin/sh", "-c"] and cmd[-2:] == ["1800", "30"]
    assert body["spec"]["automountServiceAccountToken"] is False


def ended_pod(message: str | None, phase: str = "Succeeded") -> dict[str, Any]:
    term: dict[str, Any] = {
        "exitCode": 0,
        "reason": "Completed",
        "finishedAt": "2026-01-01T00:10:00Z",
    }
    if message is not None:
        term["message"] = message
    return {
        "metadata": {"name": "kodama-s"},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "agent", "state": {"terminated": term}}],
        },
    }


def pvc(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {manifests.PHASE_ANNOTATION: "ready"}},
        "status": {"phase": "Bound"},
    }


def test_idle_stopped_pod_reads_stopped_with_the_reason() -> None:
    pod = ended_pod("idle since 2026-01-01T00:09:40Z")
    assert pod_ended(pod)
    assert derive(pvc("ws"), pvc("home"), pod) == (
        Status.STOPPED,
        "idle since 2026-01-01T00:09:40Z",
    )


def test_idle_stopped_pod_without_a_message_still_reads_stopped() -> None:
    pod = ended_pod(None)
    pod["spec"] = {"containers": [{"name": "agent", "command": idle.watcher_command(60)}]}
    assert derive(pvc("ws"), pvc("home"), pod) == (
        Status.STOPPED,
        "idle stop at 2026-01-01T00:10:00Z",
    )


def test_other_ended_pods_stay_failed() -> None:
    assert derive(pvc("ws"), pvc("home"), ended_pod(None))[0] == Status.FAILED
    assert (
        derive(pvc("ws"), pvc("home"), ended_pod("idle since x", phase="Failed"))[0]
        == Status.FAILED
    )
    assert derive(pvc("ws"), pvc("home"), ended_pod("oom"))[0] == Status.FAILED


# -- the main process and `kodama-agent quiet`, with the host's sh as "the image" -------------


@pytest.fixture()
def home() -> Iterator[Path]:
    # Short path: the helper's tmux socket lives under HOME.
    h = Path(os.environ.get("TMPDIR", "/tmp")) / f"ki{os.getpid()}-{uuid.uuid4().hex[:6]}"
    (h / ".kodama" / "bin").mkdir(parents=True)
    (h / ".kodama" / "bin" / "kodama-agent").write_bytes(helper_script())
    yield h
    shutil.rmtree(h, ignore_errors=True)


def helper(home: Path, *args: str) -> int:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        ["sh", str(home / ".kodama/bin/kodama-agent"), *args], env=env, timeout=30, check=False
    ).returncode


def running_agent(home: Path, state: str, kind: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "120"])
    stat = Path(f"/proc/{proc.pid}/stat").read_text()
    start = stat.rsplit(") ", 1)[1].split()[19]
    k = home / ".kodama"
    (k / "agent-kind").write_text(kind + "\n")
    (k / "agent-run.json").write_text(
        json.dumps(
            {
                "pid": proc.pid,
                "procStart": start,
                "mode": "interactive",
                "startedAt": "x",
                "endedAt": None,
                "exitCode": None,
            },
            separators=(",", ":"),
        )
        + "\n"
    )
    (k / "agent-state.json").write_text(
        json.dumps(
            {"state": state, "message": None, "since": "x", "exitCode": None}, separators=(",", ":")
        )
        + "\n"
    )
    return proc


def test_quiet_when_no_agent_runs(home: Path) -> None:
    assert helper(home, "quiet") == 0


@pytest.mark.parametrize(
    ("kind", "state", "quiet"),
    [
        ("claude", "idle", True),
        ("claude", "working", False),
        ("claude", "waiting", False),
        ("claude", "starting", False),
        ("other", "unknown", False),  # no hooks: a running agent counts as busy
    ],
)
def test_quiet_follows_a_running_agent(home: Path, kind: str, state: str, quiet: bool) -> None:
    proc = running_agent(home, state, kind)
    try:
        assert helper(home, "alive") == 0
        assert (helper(home, "quiet") == 0) is quiet
    finally:
        proc.kill()
        proc.wait()
    assert helper(home, "quiet") == 0  # once it is gone


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed on this host")
def test_not_quiet_while_someone_is_attached(home: Path) -> None:
    env = {**os.environ, "HOME": str(home)}
    a = str(home / ".kodama/bin/kodama-agent")
    subprocess.run(
        ["sh", a, "tmux", "new-session", "-d", "-s", "kodama", "sleep 120"], env=env, check=True
    )
    try:
        assert helper(home, "quiet") == 0  # a tmux session nobody looks at
        # A client attached through a pseudo-terminal, as `kubectl kodama attach` is.
        client = subprocess.Popen(
            ["script", "-qfec", f"sh {a} tmux attach -t kodama", "/dev/null"],
            env={**env, "TERM": "xterm"},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                out = subprocess.run(
                    ["sh", a, "tmux", "list-clients"], env=env, capture_output=True, check=False
                ).stdout
                if out.strip():
                    break
                subprocess.run(["sleep", "0.05"], check=True)
            assert helper(home, "quiet") == 1
        finally:
            client.kill()
            client.wait()
    finally:
        subprocess.run(["sh", a, "tmux", "kill-server"], env=env, check=False)


def watcher(home: Path, idle_seconds: int, tick: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["/bin/sh", "-c", idle.WATCHER, "kodama-idle-stop", str(idle_seconds), str(tick)],
        env={**os.environ, "HOME": str(home)},
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for_file(path: Path) -> str:
    for _ in range(400):
        if path.exists() and path.read_text().strip():
            return path.read_text()
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError(f"{path} never appeared")


def test_watcher_exits_0_once_the_set_up_pod_is_idle(home: Path) -> None:
    proc = watcher(home, 2, 1)
    try:
        boot = wait_for_file(home / ".kodama/boot")
        # What the ensure step's probe does once Kodama has set the pod up.
        (home / ".kodama/ensured").write_text(boot)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "kodama: idle since 20" in out


def test_watcher_waits_for_the_ensure_step_and_for_the_agent(home: Path) -> None:
    agent = running_agent(home, "working", "claude")
    proc = watcher(home, 2, 1)
    try:
        boot = wait_for_file(home / ".kodama/boot")
        # Not set up by Kodama yet, then busy: the watcher keeps the pod.
        assert proc.poll() is None
        (home / ".kodama/ensured").write_text(boot)
        assert proc.poll() is None
        agent.kill()
        agent.wait()
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "idle since" in out
    finally:
        proc.kill()
        agent.kill()


def test_watcher_exits_0_on_sigterm(home: Path) -> None:
    proc = watcher(home, 3600, 30)
    wait_for_file(home / ".kodama/boot")
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def test_config_idle_stop_is_checked_with_its_line(tmp_path: Path) -> None:
    from kodama.config import load_layer
    from kodama.errors import ConfigError

    bad = tmp_path / "c.yaml"
    bad.write_text("agent:\n  idleStop: 5s\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: agent.idleStop: .*at least 10s"):
        load_layer(bad)
    bad.write_text("agent:\n  idleStop: soon\n")
    with pytest.raises(ConfigError, match="duration"):
        load_layer(bad)
    good = tmp_path / "g.yaml"
    good.write_text(
        "agent:\n  idleStop: 30m\npricing:\n  models:\n    claude-sonnet-4: {input: 3}\n"
    )
    assert load_layer(good) is not None


def test_spec_gets_the_idle_stop_from_flag_over_config(tmp_path: Path) -> None:
    from kodama import plan
    from kodama.config import load_config
    from kodama.models import StartRequest

    (tmp_path / ".git").mkdir()
    (tmp_path / ".kodama.yaml").write_text("agent:\n  idleStop: 1h\n")

    def cfg(flags: Any) -> Any:
        return load_config(tmp_path, flags)

    def spec_for(**kw: Any) -> SessionSpec:
        return plan.build(
            StartRequest(name="s", repo="https://example.com/r.git", **kw),
            config=cfg,
            namespace="dev",
            cwd=tmp_path,
        ).spec

    assert spec_for().idle_stop == 3600
    assert spec_for(idle_stop="20s").idle_stop == 20
    assert spec_for(idle_stop="off").idle_stop is None
