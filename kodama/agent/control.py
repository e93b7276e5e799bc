"""Reaching the agent a launch left running: attach, the headless log, its state, waiting.

Everything goes through `kubectl exec` and the helper `$HOME/.kodama/bin/kodama-agent` that the
launch installed (kodama/incluster/kodama-agent).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from kodama.agent.state import parse_status
from kodama.errors import KodamaError, Timeout
from kodama.events import CancelToken
from kodama.k8s.runtime import PodContext
from kodama.models import AgentState, AgentStateName

TMUX_SESSION = "kodama"
_HELPER = '"$HOME/.kodama/bin/kodama-agent"'

# Attach: tmux attach-or-create; without tmux the agent runs in this very terminal.
_ATTACH = r"""
[ -n "$1" ] && export TERM="$1"
export TERM="${TERM:-xterm-256color}"
a="$HOME/.kodama/bin/kodama-agent"
if [ ! -f "$a" ]; then echo "kodama: the agent helper is not installed yet" >&2; exit 1; fi
if command -v tmux >/dev/null 2>&1; then
    exec sh "$a" tmux -u new-session -A -s "$2" -c "${KODAMA_WORKSPACE:-$HOME}" \
        "sh \"\$HOME/.kodama/bin/kodama-agent\" run interactive 1"
fi
echo "kodama: this image has no tmux: the agent runs in this terminal, and detaching (or a dropped connection) ends it" >&2
exec sh "$a" run interactive 1
"""


def attach_command(ctx: PodContext, command: list[str] | None) -> list[str]:
    """argv of `kubectl exec` that attaches to the agent, or runs `command` in the workspace."""
    if command:
        return ctx.kubectl.exec_argv(
            ctx.pod,
            ["sh", "-c", 'cd "$KODAMA_WORKSPACE" && exec "$@"', "kodama", *command],
            stdin=True,
        )
    term = os.environ.get("TERM", "")
    return ctx.kubectl.exec_argv(
        ctx.pod, ["sh", "-c", _ATTACH, "kodama", term, TMUX_SESSION], stdin=True, tty=True
    )


NO_LOG_EXIT = 3  # kodama-agent follow: there is no headless run log


def logs_command(ctx: PodContext, *, follow: bool = False, tail: int | None = None) -> list[str]:
    """argv of `kubectl exec` printing the headless log ($HOME/.kodama/agent.log)."""
    n = "+1" if tail is None or tail < 0 else str(tail)
    script = f'[ -f {_HELPER} ] || exit {NO_LOG_EXIT}; exec sh {_HELPER} follow "$1" "$2"'
    return ctx.kubectl.exec_argv(ctx.pod, ["sh", "-c", script, "kodama", n, "1" if follow else "0"])


def logs_error(name: str, exit_code: int, stderr: list[str]) -> KodamaError:
    """What a failed `logs` means, in one line (kubectl's own lines are already filtered out)."""
    if exit_code == NO_LOG_EXIT:
        return KodamaError(
            f"session {name} has no headless run log: its agent was not started with --prompt",
            hint=f"`kubectl kodama attach {name}` opens the agent's terminal",
        )
    why = stderr[-1] if stderr else f"exit code {exit_code}"
    return KodamaError(f"cannot read the log of session {name}: {why}")


STATE_COMMAND = ["sh", "-c", f"[ -f {_HELPER} ] || exit 0; exec sh {_HELPER} status"]


def read_state(ctx: PodContext) -> AgentState:
    """The agent's state through one exec (called concurrently for every Running session)."""
    proc = ctx.run(STATE_COMMAND, check=False, timeout=20, what="reading the agent state")
    if proc.returncode != 0:
        return AgentState()
    return parse_status(proc.stdout.decode(errors="replace"), ctx.spec.agent_kind)


def wait_for(
    read: Callable[[], AgentState],
    want: AgentStateName,
    timeout: float | None,
    cancel: CancelToken,
    *,
    interval: float = 1.0,
    name: str = "the agent",
) -> AgentState:
    """Poll `read` until the agent reaches `want`; an exited agent never reaches anything else."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        cancel.check()
        state = read()
        if state.state == want:
            return state
        if state.state == AgentStateName.EXITED and want != AgentStateName.EXITED:
            code = "" if state.exit_code is None else f" with code {state.exit_code}"
            raise KodamaError(f"{name} exited{code} before reaching {want.value}")
        if deadline is not None and time.monotonic() >= deadline:
            raise Timeout(
                f"timed out after {timeout:g}s waiting for {name} to be {want.value} "
                f"(it is {state.state.value})"
            )
        pause = (
            interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
        )
        cancel.sleep(pause)
