"""The in-pod helper's hook: every Claude Code event payload, malformed ones, concurrency.

The helper is POSIX sh; these tests run it with the host's sh (dash on Debian) and HOME=tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kodama.agent.state import helper_script, parse_status

BASE = {
    "session_id": "0b5c-4f",
    "transcript_path": "/home/kodama/.claude/projects/-workspace/0b5c-4f.jsonl",
    "cwd": "/workspace",
    "permission_mode": "default",
}


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    helper = tmp_path / ".kodama" / "bin" / "kodama-agent"
    helper.parent.mkdir(parents=True)
    helper.write_bytes(helper_script())
    return tmp_path


def run(home: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "KODAMA_WORKSPACE": str(home)}
    return subprocess.run(
        ["sh", str(home / ".kodama/bin/kodama-agent"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=20,
        check=False,
    )


def hook(home: Path, payload: Any) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    proc = run(home, "hook", stdin=raw)
    assert proc.returncode == 0
    assert proc.stdout == b""  # UserPromptSubmit's stdout would be fed to the model
    path = home / ".kodama/agent-state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def event(name: str, **kw: Any) -> dict[str, Any]:
    return {**BASE, "hook_event_name": name, **kw}


def test_each_event_sets_its_state(home: Path) -> None:
    assert hook(home, event("SessionStart", source="startup"))["state"] == "idle"
    assert hook(home, event("UserPromptSubmit", prompt="fix the bug"))["state"] == "working"
    st = hook(
        home,
        event(
            "Notification",
            message="Claude needs your permission to use Bash",
            notification_type="permission_prompt",
        ),
    )
    assert st["state"] == "waiting"
    assert st["message"] == "Claude needs your permission to use Bash"
    assert st["since"].endswith("Z")
    tool = event("PostToolUse", tool_name="Bash", tool_input={"command": "ls"})
    st = hook(home, {**tool, "tool_response": {"stdout": "x" * 200_000}})
    assert st == {**st, "state": "working", "message": None}
    assert hook(home, event("Stop", stop_hook_active=False))["state"] == "idle"
    st = hook(home, event("SessionEnd", reason="prompt_input_exit"))
    assert st["state"] == "exited"
    assert st["message"] == "prompt_input_exit"
    assert st["exitCode"] is None


def test_message_with_quotes_newlines_unicode_survives(home: Path) -> None:
    msg = 'Claude needs your permission to use "Bash" \\ with\nnewline, ü and 🐚'
    st = hook(home, event("Notification", message=msg))
    assert st["message"] == msg


def test_multiline_pretty_payload(home: Path) -> None:
    raw = json.dumps(event("Notification", message="Waiting for input"), indent=2).encode()
    assert hook(home, raw)["message"] == "Waiting for input"


def test_idle_prompt_notification_keeps_idle_and_since(home: Path) -> None:
    first = hook(home, event("Stop"))
    time.sleep(1.1)
    st = hook(
        home,
        event(
            "Notification",
            message="Claude is waiting for your input",
            notification_type="idle_prompt",
        ),
    )
    assert st == first


def test_unchanged_state_keeps_since(home: Path) -> None:
    first = hook(home, event("UserPromptSubmit", prompt="go"))
    time.sleep(1.1)
    assert hook(home, event("PostToolUse", tool_name="Read")) == first


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json at all",
        b"{",
        b'{"hook_event_name": 42}',
        b'{"session_id": "x"}',
        b"\x00\xff\xfe binary",
        json.dumps(event("SomeFutureEvent")).encode(),
        json.dumps(event("Notification")).encode(),  # no message
    ],
)
def test_malformed_payloads_never_fail(home: Path, payload: bytes) -> None:
    before = hook(home, event("Stop"))
    after = hook(home, payload)
    if b"Notification" in payload:
        assert after["state"] == "waiting" and after["message"] is None
    else:
        assert after == before
    json.dumps(after)  # still valid JSON


def test_malformed_payload_is_logged(home: Path) -> None:
    hook(home, b"garbage")
    assert "without hook_event_name" in (home / ".kodama/hook.log").read_text()


def test_unwritable_state_is_swallowed(home: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    (home / ".kodama").chmod(0o500)
    try:
        assert run(home, "hook", stdin=json.dumps(event("Stop")).encode()).returncode == 0
    finally:
        (home / ".kodama").chmod(0o700)


def test_no_home_dir_is_swallowed(tmp_path: Path) -> None:
    helper = tmp_path / "kodama-agent"
    helper.write_bytes(helper_script())
    proc = subprocess.run(
        ["sh", str(helper), "hook"],
        input=json.dumps(event("Stop")).encode(),
        env={"PATH": os.environ["PATH"], "HOME": "/proc/nonexistent-kodama"},
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout == b""


def test_concurrent_events_leave_valid_state(home: Path) -> None:
    events = [
        event("Notification", message=f"ask {i}") if i % 2 else event("UserPromptSubmit")
        for i in range(24)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda e: run(home, "hook", stdin=json.dumps(e).encode()), events))
    assert all(c.returncode == 0 for c in codes)
    st = json.loads((home / ".kodama/agent-state.json").read_text())
    assert st["state"] in ("working", "waiting")
    assert not (home / ".kodama/state.lock").exists()
    assert not list((home / ".kodama").glob("*.tmp.*"))


def test_launcher_records_run_and_exit_code(home: Path) -> None:
    (home / ".kodama/agent-command").write_text("sh -c 'echo hi from agent; exit 3'\n")
    (home / ".kodama/agent-kind").write_text("other\n")
    (home / ".kodama/prompt").write_text("do it\n")
    proc = run(home, "run", "prompt", "0")
    assert proc.returncode == 3
    record = json.loads((home / ".kodama/agent-run.json").read_text())
    assert record["exitCode"] == 3 and record["endedAt"] and record["mode"] == "prompt"
    assert "hi from agent" in (home / ".kodama/agent.log").read_text()
    state = parse_status(run(home, "status").stdout.decode(), "other")
    assert state.state == "exited" and state.exit_code == 3


def test_hook_does_not_overwrite_recorded_exit_code(home: Path) -> None:
    (home / ".kodama/agent-command").write_text("exit 4\n")
    (home / ".kodama/agent-kind").write_text("claude\n")
    run(home, "run", "interactive", "0")
    st = hook(home, event("SessionEnd", reason="other"))
    assert st["state"] == "exited" and st["exitCode"] == 4


def test_prompt_reaches_other_agents_on_stdin_and_env(home: Path) -> None:
    (home / ".kodama/agent-command").write_text(
        'sh -c \'echo "stdin=$(cat)"; echo "env=$KODAMA_PROMPT"\'\n'
    )
    (home / ".kodama/agent-kind").write_text("other\n")
    (home / ".kodama/prompt").write_text("fix 'it' \"now\"")
    assert run(home, "run", "prompt", "0").returncode == 0
    log = (home / ".kodama/agent.log").read_text()
    assert "stdin=fix 'it' \"now\"" in log and "env=fix 'it' \"now\"" in log


def test_claude_gets_print_flags_and_continue_only_with_a_conversation(home: Path) -> None:
    # The stand-in prints its arguments, then what it read on stdin (the prompt).
    (home / ".kodama/agent-command").write_text('sh -c \'printf "<%s>" "$@"; echo "|$(cat)"\' x')
    (home / ".kodama/agent-kind").write_text("claude\n")
    (home / ".kodama/prompt").write_text("hello world")
    (home / ".kodama/permission-prompt").write_text("acceptEdits\n")
    run(home, "run", "prompt", "1")
    log = (home / ".kodama/agent.log").read_text()
    assert (
        "<--permission-mode><acceptEdits><-p><--output-format><stream-json><--verbose>|hello world"
        in log
    )
    assert "--resume" not in log
    conv = home / ".claude/projects/-workspace/abc.jsonl"
    conv.parent.mkdir(parents=True)
    conv.write_text("{}\n")
    run(home, "run", "prompt", "1")
    assert (
        "<--resume><abc><--permission-mode><acceptEdits><-p>"
        in (home / ".kodama/agent.log").read_text()
    )


def test_prompt_never_on_the_command_line(home: Path) -> None:
    """A prompt starting with "-" and one over the 128 KiB argument limit both reach the agent."""
    (home / ".kodama/agent-command").write_text(
        'sh -c \'echo "args=$#"; wc -c | tr -d " "; echo "env=${#KODAMA_PROMPT}"\' x'
    )
    for kind in ("claude", "other"):
        (home / ".kodama/agent-kind").write_text(kind + "\n")
        for prompt in ("--help me", "-" + "y" * 200_000):
            (home / ".kodama/agent.log").unlink(missing_ok=True)
            (home / ".kodama/prompt").write_text(prompt)
            assert run(home, "run", "prompt", "0").returncode == 0
            log = (home / ".kodama/agent.log").read_text()
            assert f"\n{len(prompt)}\n" in log, (kind, log[:300])
            if kind == "other":
                # Small prompts also come as $KODAMA_PROMPT; big ones only on stdin and as a file.
                assert f"env={len(prompt) if len(prompt) < 100_000 else 0}" in log


def test_a_missing_agent_command_says_so(home: Path) -> None:
    (home / ".kodama/agent-command").write_text("no-such-agent --flag\n")
    (home / ".kodama/agent-kind").write_text("other\n")
    proc = run(home, "run", "interactive", "0")
    assert proc.returncode == 127
    assert b'the agent command "no-such-agent" was not found in this image' in proc.stderr
    st = json.loads((home / ".kodama/agent-state.json").read_text())
    assert st["state"] == "exited" and st["exitCode"] == 127


def test_status_sees_a_running_agent(home: Path) -> None:
    (home / ".kodama/agent-command").write_text("sleep 30\n")
    (home / ".kodama/agent-kind").write_text("other\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    proc = subprocess.Popen(
        ["sh", str(home / ".kodama/bin/kodama-agent"), "run", "interactive", "0"], env=env
    )
    try:
        deadline = time.monotonic() + 10
        while not (home / ".kodama/agent-run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        out = run(home, "status").stdout.decode()
        assert "A 1" in out
        assert parse_status(out, "other").state == "working"
    finally:
        subprocess.run(["pkill", "-P", str(proc.pid)], check=False)
        proc.wait(timeout=10)
    out = run(home, "status").stdout.decode()
    assert "A 0" in out
    assert parse_status(out, "other").state == "exited"


def test_recycled_pid_is_not_taken_for_the_agent(home: Path) -> None:
    me = os.getpid()
    (home / ".kodama/agent-run.json").write_text(
        json.dumps(
            {
                "pid": me,
                "procStart": "1",
                "mode": "interactive",
                "startedAt": "2024-01-01T00:00:00Z",
                "endedAt": None,
                "exitCode": None,
            }
        )
    )
    assert run(home, "alive").returncode == 1
    st = parse_status(run(home, "status").stdout.decode(), "claude")
    assert st.state == "exited" and st.message and "gone" in st.message


def test_an_agent_exiting_while_status_reads_is_never_taken_for_killed(home: Path) -> None:
    # The helper's test hook widens the gap between reading the run record and checking
    # liveness; read in the wrong order, an agent that exits in that gap looked killed with its
    # pod (no exit code).
    (home / ".kodama/agent-command").write_text("sh -c 'sleep 1; exit 4'\n")
    (home / ".kodama/agent-kind").write_text("other\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    slow = {**env, "KODAMA_AGENT_STATUS_GAP": "0.15", "KODAMA_WORKSPACE": str(home)}
    for _ in range(2):
        # Reaped the moment it exits, as in a pod (a zombie launcher would still pass kill -0).
        proc = subprocess.Popen(
            [
                "sh",
                "-c",
                'sh "$0" run interactive 0 & wait',
                str(home / ".kodama/bin/kodama-agent"),
            ],
            env=env,
        )
        seen = []
        while True:
            out = subprocess.run(
                ["sh", str(home / ".kodama/bin/kodama-agent"), "status"],
                env=slow,
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            ).stdout
            state = parse_status(out, "other")
            seen.append((state.state, state.exit_code))
            if state.state == "exited" and proc.poll() is not None:
                break
        proc.wait(timeout=10)
        assert [s for s in seen if s[0] == "exited"] and all(
            code == 4 for name, code in seen if name == "exited"
        ), seen


def test_status_runs_no_other_program(home: Path, tmp_path: Path) -> None:
    # One status per Running session on every list and editor refresh: the shell's builtins
    # only (no PATH at all here), with the same three lines as before.
    (home / ".kodama/agent-command").write_text("sleep 30\n")
    (home / ".kodama/agent-kind").write_text("other\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    helper = str(home / ".kodama/bin/kodama-agent")
    sh = shutil.which("sh") or "/bin/sh"
    bare = {"PATH": str(tmp_path / "nothing-here"), "HOME": str(home)}

    def status() -> str:
        proc = subprocess.run(
            [sh, helper, "status"], env=bare, capture_output=True, text=True, timeout=20
        )
        assert proc.stderr == ""
        return proc.stdout

    proc = subprocess.Popen([sh, helper, "run", "interactive", "0"], env=env)
    try:
        deadline = time.monotonic() + 10
        while not (home / ".kodama/agent-run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        hook(home, event("Notification", message="need \\ you"))
        record = (home / ".kodama/agent-run.json").read_text().splitlines()[0]
        state = (home / ".kodama/agent-state.json").read_text().splitlines()[0]
        assert status() == f"S {state}\nR {record}\nA 1\n"
        assert subprocess.run([sh, helper, "alive"], env=bare, check=False).returncode == 0
    finally:
        subprocess.run(["pkill", "-P", str(proc.pid)], check=False)
        proc.wait(timeout=10)
    record = (home / ".kodama/agent-run.json").read_text().splitlines()[0]
    assert json.loads(record)["endedAt"] is not None
    state = (home / ".kodama/agent-state.json").read_text().splitlines()[0]
    assert status() == f"S {state}\nR {record}\nA 0\n"
    assert subprocess.run([sh, helper, "alive"], env=bare, check=False).returncode == 1
    for name in ("agent-run.json", "agent-state.json"):
        (home / ".kodama" / name).unlink()
    assert status() == "S \nR \nA 0\n"
