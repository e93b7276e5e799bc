"""Pure helpers of the agent work: hook registration in Claude settings, reading agent state.

No I/O here: agent.py runs the execs and hands the text over.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from importlib import resources
from typing import Any

from pydantic import ValidationError

from kodama.models import AgentState, AgentStateName, as_utc

# Installed by the ensure step; `sh` spares us the exec bit (some PVCs are mounted noexec).
HELPER_PATH = '"$HOME/.kodama/bin/kodama-agent"'
HOOK_MARKER = "/.kodama/bin/kodama-agent"
HOOK_COMMAND = f"sh {HELPER_PATH} hook"
HOOK_TIMEOUT = 10
# Event -> whether it takes a tool matcher. Notification: waiting; Stop: idle; UserPromptSubmit
# and PostToolUse: working (PostToolUse ends a "waiting" once a permission was granted);
# SessionStart: idle (ready for a prompt); SessionEnd: exited.
HOOK_EVENTS: dict[str, bool] = {
    "SessionStart": False,
    "UserPromptSubmit": False,
    "PostToolUse": True,
    "Notification": False,
    "Stop": False,
    "SessionEnd": False,
}


def helper_script() -> bytes:
    """The in-pod helper (hook, launcher, status), shipped as package data."""
    return (resources.files("kodama") / "incluster" / "kodama-agent").read_bytes()


def _is_ours(hook: Any) -> bool:
    return isinstance(hook, dict) and HOOK_MARKER in str(hook.get("command", ""))


def _our_group(event: str) -> dict[str, Any]:
    group: dict[str, Any] = {
        "hooks": [{"type": "command", "command": HOOK_COMMAND, "timeout": HOOK_TIMEOUT}]
    }
    if HOOK_EVENTS[event]:
        group = {"matcher": "*", **group}
    return group


def merge_hooks(text: str | None) -> tuple[str | None, str | None]:
    """Register Kodama's hook in Claude Code user settings, keeping everything else.

    Returns (new text or None when nothing changes, warning or None). Idempotent: our entry is
    recognised by its command and appears exactly once per event afterwards.
    """
    settings: Any = {}
    if text is not None and text.strip():
        try:
            settings = json.loads(text)
        except ValueError:
            return None, (
                "~/.claude/settings.json in the pod is not valid JSON; agent state hooks were "
                "not registered (fix the file, then attach again)"
            )
    if not isinstance(settings, dict):
        return None, "~/.claude/settings.json in the pod is not a JSON object; hooks not registered"
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        return None, '"hooks" in ~/.claude/settings.json is not an object; hooks not registered'
    before = copy.deepcopy(settings)
    merged = dict(hooks)
    for event in HOOK_EVENTS:
        groups = merged.get(event, [])
        if not isinstance(groups, list):
            return None, f'"hooks.{event}" in ~/.claude/settings.json is not a list; not registered'
        kept: list[Any] = []
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(inner, list) and any(_is_ours(h) for h in inner):
                rest = [h for h in inner if not _is_ours(h)]
                if rest:
                    kept.append({**group, "hooks": rest})
                continue
            kept.append(group)
        kept.append(_our_group(event))
        merged[event] = kept
    settings["hooks"] = merged
    if settings == before:
        return None, None
    return json.dumps(settings, indent=2) + "\n", None


def _json_line(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def parse_status(output: str, kind: str) -> AgentState:
    """`kodama-agent status` output ("S {state}", "R {run}", "A 0|1") -> AgentState.

    For Claude Code the hook-written state wins while the agent process lives; for other agents
    (no hooks) the state is whether the launcher's process is alive. A run with an end time has
    ended, even if liveness was checked a moment before it did (status reads liveness first). A
    run without an end time whose process is gone was killed with its pod.
    """
    parts = {line[:1]: line[2:].strip() for line in output.splitlines() if line[1:2] == " "}
    parts.update({line[:1]: "" for line in output.splitlines() if line in ("S", "R", "A")})
    state = _json_line(parts.get("S", ""))
    run = _json_line(parts.get("R", ""))
    alive = parts.get("A") == "1"
    if not run:
        return _from_state(state) if kind == "claude" and state else AgentState()
    started = _time(run.get("startedAt"))
    ended = _time(run.get("endedAt"))
    if alive and ended is None:
        if kind == "claude" and state:
            hooked = _from_state(state)
            # SessionEnd comes a moment before the process exits: until the launcher records the
            # exit (with its code), the agent has not exited.
            fresh = hooked.since is None or started is None or hooked.since >= started
            if fresh and hooked.state != AgentStateName.EXITED:
                return hooked
        return AgentState(state=AgentStateName.WORKING, since=started)
    code = run.get("exitCode")
    if ended is None:
        return AgentState(
            state=AgentStateName.EXITED,
            message="the agent process is gone (its pod was stopped or restarted)",
            since=started,
        )
    return AgentState(
        state=AgentStateName.EXITED, exit_code=code if isinstance(code, int) else None, since=ended
    )


def _from_state(data: dict[str, Any]) -> AgentState:
    try:
        return AgentState.model_validate(data)
    except ValidationError:
        return AgentState()
