"""Pure parts of the agent work: hook registration, state parsing, wait, CLI helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kodama.agent import control
from kodama.agent import launch as agent
from kodama.agent.logs import render_line
from kodama.agent.state import HOOK_COMMAND, HOOK_EVENTS, merge_hooks, parse_status
from kodama.errors import InvalidInput, KodamaError, Timeout
from kodama.events import CancelToken
from kodama.k8s.kubectl import Kubectl
from kodama.k8s.runtime import PodContext
from kodama.models import AgentState, AgentStateName
from kodama.present import agent_cell
from kodama.validation import parse_timeout as parse_duration
from tests.fixtures.specs import pod_context


def ours(settings: dict[str, object], event: str) -> int:
    groups = settings["hooks"][event]  # type: ignore[index]
    return sum(1 for g in groups for h in g["hooks"] if h["command"] == HOOK_COMMAND)


def test_merge_into_missing_or_empty_settings() -> None:
    for text in (None, "", "  \n"):
        new, warning = merge_hooks(text)
        assert warning is None and new is not None
        data = json.loads(new)
        for event, matcher in HOOK_EVENTS.items():
            assert ours(data, event) == 1
            assert ("matcher" in data["hooks"][event][0]) == matcher


def test_merge_keeps_user_settings_and_hooks_and_is_idempotent() -> None:
    user = {
        "model": "opus",
        "permissions": {"allow": ["Bash(git log:*)"]},
        "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}
            ],
        },
    }
    new, _ = merge_hooks(json.dumps(user))
    assert new is not None
    data = json.loads(new)
    assert data["model"] == "opus" and data["permissions"] == user["permissions"]
    assert data["hooks"]["PreToolUse"] == user["hooks"]["PreToolUse"]
    assert data["hooks"]["Stop"][0] == user["hooks"]["Stop"][0]
    assert ours(data, "Stop") == 1
    again, warning = merge_hooks(new)
    assert again is None and warning is None  # registering twice changes nothing


def test_merge_dedupes_and_repairs_older_entries() -> None:
    stale = {"type": "command", "command": 'sh "$HOME/.kodama/bin/kodama-agent" hook --old'}
    user = {
        "hooks": {
            "Stop": [
                {"hooks": [stale, {"type": "command", "command": "mine"}]},
                {"hooks": [stale]},
            ]
        }
    }
    new, _ = merge_hooks(json.dumps(user))
    data = json.loads(new or "")
    assert data["hooks"]["Stop"][0] == {"hooks": [{"type": "command", "command": "mine"}]}
    assert ours(data, "Stop") == 1 and len(data["hooks"]["Stop"]) == 2


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"hooks": []}', '{"hooks": {"Stop": {}}}']
)
def test_merge_never_clobbers_what_it_cannot_read(text: str) -> None:
    new, warning = merge_hooks(text)
    assert new is None and warning


def status(state: object = None, run: object = None, alive: bool = False) -> str:
    s = json.dumps(state, separators=(",", ":")) if state else ""
    r = json.dumps(run, separators=(",", ":")) if run else ""
    return f"S {s}\nR {r}\nA {1 if alive else 0}\n"


RUN = {"pid": 7, "procStart": "9", "mode": "interactive", "startedAt": "2025-01-01T10:00:00Z"}


def test_parse_status_claude_running_uses_hook_state() -> None:
    st = {"state": "waiting", "message": "perm?", "since": "2025-01-01T10:05:00Z", "exitCode": None}
    got = parse_status(status(st, {**RUN, "endedAt": None, "exitCode": None}, True), "claude")
    assert got.state == AgentStateName.WAITING and got.message == "perm?"
    assert got.since == datetime(2025, 1, 1, 10, 5, tzinfo=UTC)


def test_parse_status_stale_hook_state_from_an_older_run() -> None:
    st = {"state": "idle", "message": None, "since": "2024-12-31T10:00:00Z", "exitCode": None}
    got = parse_status(status(st, {**RUN, "endedAt": None}, True), "claude")
    assert got.state == AgentStateName.WORKING


def test_parse_status_other_agent_alive_and_exited() -> None:
    got = parse_status(status(None, {**RUN, "endedAt": None}, True), "other")
    assert got.state == AgentStateName.WORKING
    ended = {**RUN, "endedAt": "2025-01-01T11:00:00Z", "exitCode": 2}
    got = parse_status(status(None, ended, False), "other")
    assert got.state == AgentStateName.EXITED and got.exit_code == 2


def test_parse_status_a_run_that_ended_after_the_liveness_check_has_ended() -> None:
    # status checks liveness first, then reads the record: an agent that exits in between is
    # seen alive with an end record, and its exit code must not be lost.
    ended = {**RUN, "endedAt": "2025-01-01T11:00:00Z", "exitCode": 4}
    for kind in ("other", "claude"):
        got = parse_status(status(None, ended, True), kind)
        assert got.state == AgentStateName.EXITED and got.exit_code == 4


def test_parse_status_session_end_before_the_process_exits_is_not_exited() -> None:
    # Claude Code's SessionEnd hook runs just before its process ends: `wait --for=exited` must
    # not return then, without the exit code the launcher records a moment later.
    st = {"state": "exited", "message": "exit", "since": "2025-01-01T10:05:00Z", "exitCode": None}
    got = parse_status(status(st, {**RUN, "endedAt": None, "exitCode": None}, True), "claude")
    assert got.state == AgentStateName.WORKING
    ended = {**RUN, "endedAt": "2025-01-01T10:05:01Z", "exitCode": 3}
    got = parse_status(status(st, ended, False), "claude")
    assert got.state == AgentStateName.EXITED and got.exit_code == 3


def test_parse_status_process_gone_with_its_pod() -> None:
    got = parse_status(status(None, {**RUN, "endedAt": None}, False), "claude")
    assert got.state == AgentStateName.EXITED and got.exit_code is None
    assert got.message and "gone" in got.message


@pytest.mark.parametrize("out", ["", "garbage", "S {bad\nR [1]\nA 1\n", "S\nR\nA\n"])
def test_parse_status_tolerates_garbage(out: str) -> None:
    assert parse_status(out, "claude") == AgentState()  # no run record: nothing is known


@pytest.mark.parametrize(
    ("state_since", "run_start", "want"),
    [
        # naive hook time, aware run time, and the other way round: naive is UTC
        ("2025-01-01T10:05:00", "2025-01-01T10:00:00Z", AgentStateName.WAITING),
        ("2025-01-01T10:05:00Z", "2025-01-01T10:00:00", AgentStateName.WAITING),
        # 08:05 UTC: the hook wrote it before this run started, so it is an older run's
        ("2025-01-01T10:05:00+02:00", "2025-01-01T10:00:00", AgentStateName.WORKING),
    ],
)
def test_parse_status_mixes_naive_and_aware_times(
    state_since: str, run_start: str, want: AgentStateName
) -> None:
    st = {"state": "waiting", "message": "m", "since": state_since, "exitCode": None}
    out = status(st, {**RUN, "startedAt": run_start, "endedAt": None}, True)
    got = parse_status(out, "claude")
    assert got.state == want
    assert got.since is not None and got.since.tzinfo is not None
    assert agent_cell(got)  # rendering compares with now: an aware time is required


@pytest.mark.parametrize(
    "state",
    [
        {"state": "waiting", "since": "yesterday"},
        {"state": "no-such-state", "since": 12},
        {"state": "idle", "exitCode": "x" * 10_000, "message": ["not", "text"]},
        {"since": "9999-99-99T99:99:99"},
    ],
)
def test_parse_status_survives_hostile_state_files(state: dict[str, object]) -> None:
    # An invalid state file is no state: unknown, never some of its fields.
    got = parse_status(status(state, {**RUN, "endedAt": None}, True), "claude")
    assert got == AgentState()


def test_wait_for_reaches_times_out_and_fails_on_exit() -> None:
    seq = iter([AgentStateName.STARTING, AgentStateName.WORKING, AgentStateName.IDLE])
    got = control.wait_for(
        lambda: AgentState(state=next(seq)), AgentStateName.IDLE, 5, CancelToken(), interval=0.01
    )
    assert got.state == AgentStateName.IDLE
    with pytest.raises(Timeout, match="idle"):
        control.wait_for(
            lambda: AgentState(state=AgentStateName.WORKING),
            AgentStateName.IDLE,
            0.05,
            CancelToken(),
            interval=0.01,
        )
    with pytest.raises(KodamaError, match="exited with code 3"):
        control.wait_for(
            lambda: AgentState(state=AgentStateName.EXITED, exit_code=3),
            AgentStateName.IDLE,
            5,
            CancelToken(),
        )


@pytest.mark.parametrize(
    ("text", "secs"), [("30", 30), ("30s", 30), ("2m", 120), ("1h30m", 5400), ("1m30s", 90)]
)
def test_parse_duration(text: str, secs: float) -> None:
    assert parse_duration(text) == secs


@pytest.mark.parametrize("text", ["", "abc", "5d", "-3"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_render_stream_json() -> None:
    init = {"type": "system", "subtype": "init", "session_id": "s1", "model": "m"}
    assert render_line(json.dumps(init)) == "[session s1 · model m]"
    msg = {
        "type": "assistant",
        "message": {
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "name": "Bash", "input": {"command": "ls"}},
            ]
        },
    }
    assert render_line(json.dumps(msg)) == 'Looking.\n→ Bash: {"command": "ls"}'
    res = {"type": "result", "subtype": "success", "duration_ms": 1500, "result": "done"}
    assert render_line(json.dumps(res)) == "== result (success, 1.5s): done"
    assert render_line(json.dumps({"type": "user", "message": {}})) is None
    assert render_line("plain text\n") == "plain text"
    assert render_line('{"not": "an event"}\n') == '{"not": "an event"}'


def ctx() -> PodContext:
    return pod_context(kubectl=Kubectl("dev", "/k/config", "ctx"))


def test_attach_and_logs_command_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "screen-256color")
    argv = control.attach_command(ctx(), None)
    assert argv[1:7] == ["--kubeconfig", "/k/config", "--context", "ctx", "-n", "dev"]
    assert "-i" in argv and "-t" in argv
    assert argv[-2:] == ["screen-256color", "kodama"]
    script = argv[-4]
    assert "new-session -A -s" in script and "no tmux" in script
    run = control.attach_command(ctx(), ["false"])
    assert "-t" not in run and run[-1] == "false"
    logs = control.logs_command(ctx(), follow=True, tail=5)
    assert logs[-2:] == ["5", "1"] and "-t" not in logs
    assert control.logs_command(ctx())[-2:] == ["+1", "0"]


def test_probe_parsing() -> None:
    p = agent._parse_probe('KODAMA tmux=1 running=0 key=none\n@@kodama settings 123_45\n{"a": 1}\n')
    assert p.tmux and not p.running and p.files["settings"].sum == "123_45"
    assert p.files["settings"].text == '{"a": 1}\n'
    p = agent._parse_probe("KODAMA tmux=0 running=1 key=none\n")
    assert not p.tmux and p.running and "settings" not in p.files
    with pytest.raises(KodamaError):
        agent._parse_probe("sh: 1: oops\n")
