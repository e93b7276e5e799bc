"""The agent in the pod: launch (idempotent), attach, headless prompts, logs, state.

Everything happens through exec with the helper `$HOME/.kodama/bin/kodama-agent`
(kodama/incluster/kodama-agent), which this module installs on every ensure step. With tmux in
the image the agent runs in the tmux session `kodama` on Kodama's own socket, so it keeps
working while nobody is attached; without tmux an interactive agent runs in the attach terminal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from .agent_state import helper_script, merge_hooks, parse_status
from .errors import KodamaError, Timeout
from .events import CancelToken, Reporter
from .models import AgentState, AgentStateName
from .runtime import PodContext

TMUX_SESSION = "kodama"
_HELPER = '"$HOME/.kodama/bin/kodama-agent"'

# Install the helper (stdin) and the agent command, then report what the pod has.
_PROBE = r"""
k="$HOME/.kodama"
mkdir -p "$k/bin" || exit 1
cat >"$k/bin/kodama-agent.tmp.$$" && chmod 755 "$k/bin/kodama-agent.tmp.$$" &&
    mv -f "$k/bin/kodama-agent.tmp.$$" "$k/bin/kodama-agent" || exit 1
printf '%s\n' "$1" >"$k/agent-command.tmp.$$" && mv -f "$k/agent-command.tmp.$$" "$k/agent-command"
printf '%s\n' "$2" >"$k/agent-kind.tmp.$$" && mv -f "$k/agent-kind.tmp.$$" "$k/agent-kind"
a="$k/bin/kodama-agent"
tmux=0; running=0
if command -v tmux >/dev/null 2>&1; then
    tmux=1
    sh "$a" tmux has-session -t "$3" 2>/dev/null && running=1
fi
[ "$running" = 1 ] || { sh "$a" alive && running=1; }
s="$HOME/.claude/settings.json"
if [ "$2" = claude ] && [ -f "$s" ]; then
    echo "KODAMA tmux=$tmux running=$running settings=1 sum=$(cksum <"$s")"
    cat "$s"
else
    echo "KODAMA tmux=$tmux running=$running settings=0 sum="
fi
"""

# Write ~/.claude/settings.json from stdin, unless it changed since the probe read it.
_WRITE_SETTINGS = r"""
d="$HOME/.claude"; s="$d/settings.json"
mkdir -p "$d" || exit 1
if [ -n "$1" ]; then
    [ -f "$s" ] && [ "$(cksum <"$s")" = "$1" ] || { echo "settings.json changed" >&2; exit 75; }
else
    [ ! -f "$s" ] || { echo "settings.json appeared" >&2; exit 75; }
fi
cat >"$s.kodama.$$" && mv -f "$s.kodama.$$" "$s"
"""

# Launch the agent unless it runs already. $1 mode, $2 continue (0|1), $3 tmux session.
_LAUNCH = r"""
k="$HOME/.kodama"; a="$k/bin/kodama-agent"
if [ "$1" = prompt ]; then
    cat >"$k/prompt.tmp.$$" && mv -f "$k/prompt.tmp.$$" "$k/prompt" || exit 1
fi
# Returning only once the launcher has recorded its run makes `start --prompt; logs -f` and
# `list` right after a launch see this run, not the previous one.
started() {
    i=0
    while [ "$i" -lt 100 ] && ! sh "$a" alive; do sleep 0.05 2>/dev/null || sleep 1; i=$((i + 1)); done
}
if command -v tmux >/dev/null 2>&1; then
    sh "$a" tmux has-session -t "$3" 2>/dev/null && exit 0
    sh "$a" tmux new-session -d -s "$3" -x 200 -y 50 -c "${KODAMA_WORKSPACE:-$HOME}" \
        "sh \"\$HOME/.kodama/bin/kodama-agent\" run $1 $2" ||
        sh "$a" tmux has-session -t "$3" || exit 1
    started
    exit 0
fi
[ "$1" = prompt ] || exit 0
sh "$a" alive && exit 0
if command -v setsid >/dev/null 2>&1; then
    setsid sh "$a" run prompt "$2" </dev/null >/dev/null 2>&1 &
else
    nohup sh "$a" run prompt "$2" </dev/null >/dev/null 2>&1 &
fi
started
"""

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


@dataclass
class Probe:
    tmux: bool
    running: bool
    has_settings: bool
    settings_sum: str
    settings: str | None


def _parse_probe(out: str) -> Probe:
    head, _, rest = out.partition("\n")
    if not head.startswith("KODAMA "):
        raise KodamaError(f"unexpected answer from the pod while preparing the agent: {head!r}")
    fields = dict(
        item.split("=", 1)
        for item in head[len("KODAMA ") :].split(" sum=")[0].split()
        if "=" in item
    )
    settings_sum = head.partition(" sum=")[2].strip()
    has = fields.get("settings") == "1"
    return Probe(
        tmux=fields.get("tmux") == "1",
        running=fields.get("running") == "1",
        has_settings=has,
        settings_sum=settings_sum,
        settings=rest if has else None,
    )


def _register_hooks(ctx: PodContext, probe: Probe, reporter: Reporter) -> None:
    for attempt in range(3):
        new, warning = merge_hooks(probe.settings)
        if warning:
            reporter.warn(warning)
            return
        if new is None:
            return
        proc = ctx.script(
            _WRITE_SETTINGS,
            [probe.settings_sum],
            input=new.encode(),
            check=False,
            timeout=60,
            what="registering the agent hooks",
        )
        if proc.returncode == 0:
            return
        if proc.returncode != 75 or attempt == 2:
            reporter.warn("could not register the agent state hooks in ~/.claude/settings.json")
            return
        probe = _probe(ctx)  # someone wrote the file meanwhile: merge again with theirs


def _probe(ctx: PodContext) -> Probe:
    proc = ctx.script(
        _PROBE,
        [ctx.spec.agent_command, ctx.spec.agent_kind, TMUX_SESSION],
        input=helper_script(),
        timeout=60,
        what="installing the agent helper",
    )
    return _parse_probe(proc.stdout.decode(errors="replace"))


def ensure_agent(
    ctx: PodContext,
    reporter: Reporter,
    cancel: CancelToken,
    *,
    prompt: str | None = None,
    resume: bool = False,
) -> None:
    """Install the helper, register hooks (Claude Code), launch the agent unless it runs.

    Idempotent: start, resume and attach all call it. One exec when everything is in place.
    """
    cancel.check()
    probe = _probe(ctx)
    if ctx.spec.agent_kind == "claude":
        _register_hooks(ctx, probe, reporter)
    cancel.check()
    if probe.running:
        if prompt is not None:
            reporter.warn("the agent is already running; the prompt was not sent")
        return
    if prompt is None and not probe.tmux:
        reporter.info(
            "The image has no tmux: the agent starts when you attach and ends when you detach"
        )
        return
    mode = "prompt" if prompt is not None else "interactive"
    what = "headless run" if prompt is not None else f"tmux session {TMUX_SESSION!r}"
    reporter.step("agent", f"Launching the agent ({what}): {ctx.spec.agent_command}")
    ctx.script(
        _LAUNCH,
        [mode, "1" if resume else "0", TMUX_SESSION],
        input=prompt.encode() if prompt is not None else None,
        timeout=60,
        what="launching the agent",
    )


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


def logs_command(ctx: PodContext, *, follow: bool = False, tail: int | None = None) -> list[str]:
    """argv of `kubectl exec` printing the headless log ($HOME/.kodama/agent.log)."""
    n = "+1" if tail is None or tail < 0 else str(tail)
    script = f'[ -f {_HELPER} ] || {{ echo "no agent run yet" >&2; exit 1; }}; exec sh {_HELPER} follow "$1" "$2"'
    return ctx.kubectl.exec_argv(ctx.pod, ["sh", "-c", script, "kodama", n, "1" if follow else "0"])


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
