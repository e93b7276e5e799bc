"""The agent in the pod: the idempotent launch (install, first-run settings, hooks, start).

Everything happens through exec with the helper `$HOME/.kodama/bin/kodama-agent`
(kodama/incluster/kodama-agent), which this module installs on every ensure step. With tmux in
the image the agent runs in the tmux session `kodama` on Kodama's own socket, so it keeps
working while nobody is attached; without tmux an interactive agent runs in the attach terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kodama.agent.control import TMUX_SESSION
from kodama.agent.firstrun import KeyStatus
from kodama.agent.prepare import ClaudeFile, Probe, prepare_claude
from kodama.agent.state import helper_script, parse_status
from kodama.errors import AgentLaunchFailed, KodamaError
from kodama.events import CancelToken, Reporter
from kodama.k8s.kubectl import meaningful
from kodama.k8s.manifests import secret_file_links
from kodama.k8s.runtime import PodContext
from kodama.models import AgentState

# Install the helper (stdin), the agent command and its run options, then report what the pod
# has: a header line, then sections "@@kodama NAME CKSUM" (CKSUM "-" when the file is absent).
# $1 command, $2 kind, $3 tmux session, $4/$5 permission mode of headless/interactive runs.
_PROBE = r"""
k="$HOME/.kodama"
mkdir -p "$k/bin" || exit 1
cat >"$k/bin/kodama-agent.tmp.$$" && chmod 755 "$k/bin/kodama-agent.tmp.$$" &&
    mv -f "$k/bin/kodama-agent.tmp.$$" "$k/bin/kodama-agent" || exit 1
put() { printf '%s\n' "$2" >"$k/$1.tmp.$$" && mv -f "$k/$1.tmp.$$" "$k/$1"; }
put agent-command "$1"; put agent-kind "$2"; put permission-prompt "$4"; put permission-interactive "$5"
a="$k/bin/kodama-agent"
# This pod is set up (the idle watcher, kodama/agent/idle.py, waits for its token to come back).
if [ -f "$k/boot" ]; then cp -f "$k/boot" "$k/ensured.tmp.$$" && mv -f "$k/ensured.tmp.$$" "$k/ensured"; fi
tmux=0; running=0
if command -v tmux >/dev/null 2>&1; then
    tmux=1
    if sh "$a" tmux has-session -t "$3" 2>/dev/null; then
        # A pane kept after its agent failed (remain-on-exit) is no running agent.
        [ "$(sh "$a" tmux display-message -p -t "$3" '#{pane_dead}' 2>/dev/null)" = 1 ] || running=1
    fi
fi
[ "$running" = 1 ] || { sh "$a" alive && running=1; }
key=none
if [ "$2" = claude ] && [ -n "${ANTHROPIC_API_KEY:-}" ]; then
    t=$(printf '%s' "$ANTHROPIC_API_KEY" | tail -c 20)
    flat=$(tr -d ' \t\r\n' <"$HOME/.claude.json" 2>/dev/null)
    list() { printf '%s' "$flat" | sed -n 's/.*"customApiKeyResponses":{[^}]*"'"$1"'":\[\([^]]*\)\].*/\1/p'; }
    case "$t" in
    *[!A-Za-z0-9_-]*) key=odd ;;
    *) case ",$(list rejected)," in
       *"\"$t\""*) key=rejected ;;
       *) case ",$(list approved)," in *"\"$t\""*) key=approved ;; *) key=new ;; esac ;;
       esac ;;
    esac
fi
# --secret-file files under HOME: links from Kodama's read-only mount (see manifests.FILES_DIR).
# A file of the user's own at that path is left alone and reported.
kept=
link_files() {
    shift 5
    while [ "$#" -ge 2 ]; do
        dst="$HOME/$2"
        if [ -e "$dst" ] && [ ! -L "$dst" ]; then
            kept="$kept,$2"
        else
            mkdir -p "$(dirname "$dst")" && rm -f "$dst" &&
                ln -s "${KODAMA_FILES:-/var/run/kodama/files}/$1" "$dst" || kept="$kept,$2"
        fi
        shift 2
    done
}
link_files "$@"
last=$(sed -n 's/.*"mode":[[:space:]]*"\([a-z]*\)".*/\1/p' "$k/agent-run.json" 2>/dev/null)
echo "KODAMA tmux=$tmux running=$running key=$key kept=${kept#,} last=$last"
ws=$(cd "${KODAMA_WORKSPACE:-$HOME}" 2>/dev/null && pwd -P)
printf '@@kodama workspace -\n%s\n' "$ws"
if [ "$2" = claude ]; then
    for f in settings:.claude/settings.json claude.json:.claude.json; do
        p="$HOME/${f#*:}"
        if [ -f "$p" ]; then
            printf '@@kodama %s %s\n' "${f%%:*}" "$(cksum <"$p" | tr ' ' _)"
            cat "$p"
            echo
        else
            printf '@@kodama %s -\n' "${f%%:*}"
        fi
    done
fi
"""

# Launch the agent unless it runs already. $1 mode, $2 continue (0|1), $3 tmux session, $4 how
# many 0.1 s ticks the agent is watched once its launcher recorded the run (SETTLE_TICKS).
# Exit 3 with "ended" lines (the run record, then the agent's last output) when the agent ended
# within that settle: a missing command or a broken set-up, which `start` must not call Running.
_LAUNCH = r"""
k="$HOME/.kodama"; a="$k/bin/kodama-agent"; run="$k/agent-run.json"
if [ "$1" = prompt ]; then
    cat >"$k/prompt.tmp.$$" && mv -f "$k/prompt.tmp.$$" "$k/prompt" || exit 1
fi
old=$(cat "$run" 2>/dev/null)
nap() { sleep "$1" 2>/dev/null || sleep 1; }
# Returning only once the launcher has recorded its run makes `start --prompt; logs -f` and
# `list` right after a launch see this run, not the previous one.
started() {
    i=0
    while [ "$i" -lt 100 ] && [ "$(cat "$run" 2>/dev/null)" = "$old" ]; do nap 0.05; i=$((i + 1)); done
    # The helper's `alive` (builtins only: one fork of sh per tick) is the one liveness rule.
    i=0
    while [ "$i" -lt "$4" ] && sh "$a" alive; do nap 0.1; i=$((i + 1)); done
    # Still up: its status goes back with the answer (start returns it without another exec).
    st=$(sh "$a" status)
    case "$st" in *"
A 1"*) printf '@@kodama status\n%s\n' "$st"; exit 0 ;; esac
    [ "$1" = prompt ] && grep -q '"exitCode":0}' "$run" && exit 0
    echo "ended"
    cat "$run"
    if [ "$1" = prompt ]; then
        tail -n 15 "$k/agent.log"
    else
        sh "$a" tmux capture-pane -p -t "$3" -S -60 2>/dev/null | grep -v '^[[:space:]]*$' | tail -n 15
    fi
    exit 3
}
if command -v tmux >/dev/null 2>&1; then
    if sh "$a" tmux has-session -t "$3" 2>/dev/null; then
        [ "$(sh "$a" tmux display-message -p -t "$3" '#{pane_dead}')" = 1 ] || exit 0
        sh "$a" tmux kill-session -t "$3"
    fi
    # remain-on-exit=failed keeps the pane of an agent that failed, so its last words can be
    # read (here and by whoever attaches); a clean exit closes it as before.
    sh "$a" tmux start-server \; set-option -g remain-on-exit failed \; \
        new-session -d -s "$3" -x 200 -y 50 -c "${KODAMA_WORKSPACE:-$HOME}" \
        "sh \"\$HOME/.kodama/bin/kodama-agent\" run $1 $2" ||
        sh "$a" tmux has-session -t "$3" || exit 1
    started "$1" "$2" "$3" "$4"
fi
[ "$1" = prompt ] || exit 0
sh "$a" alive && exit 0
if command -v setsid >/dev/null 2>&1; then
    setsid sh "$a" run prompt "$2" </dev/null >/dev/null 2>&1 &
else
    nohup sh "$a" run prompt "$2" </dev/null >/dev/null 2>&1 &
fi
started "$1" "$2" "$3" "$4"
"""


# How long a launched agent must stay up for `start` to call it Running (issue 15), in 0.1 s
# ticks counted from the moment its launcher recorded the run (so past the exec and the tmux
# start-up, not from when our exec began). What it catches: a command that is not there, a shell
# line that fails, an agent that rejects its flags or crashes while starting. An agent that dies
# later than this is not a failed start: `list`, `get` and attach show it as exited, with its
# exit code. 0.5 s, down from about a second plus the cost of the checks themselves, which is
# what `start` and `resume` spent waiting on every launch.
SETTLE_TICKS = 5


def _parse_probe(out: str) -> Probe:
    head, _, rest = out.partition("\n")
    if not head.startswith("KODAMA "):
        raise KodamaError(f"unexpected answer from the pod while preparing the agent: {head!r}")
    fields = dict(item.split("=", 1) for item in head[len("KODAMA ") :].split() if "=" in item)
    sections: dict[str, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    for line in rest.split("\n"):
        if line.startswith("@@kodama "):
            _, name, sum_ = [*line.split(" "), "-"][:3]
            current = []
            sections[name] = (sum_, current)
        elif current is not None:
            current.append(line)
    files = {}
    for name in ("settings", "claude.json"):
        if name in sections:
            sum_, lines = sections[name]
            files[name] = ClaudeFile(name, sum_, "\n".join(lines) if sum_ != "-" else None)
    try:
        key = KeyStatus(fields.get("key", "none"))
    except ValueError:
        key = KeyStatus.NONE
    ws_lines = sections.get("workspace", ("-", []))[1]
    return Probe(
        tmux=fields.get("tmux") == "1",
        running=fields.get("running") == "1",
        key=key,
        workspace=ws_lines[0] if ws_lines else "",
        last_mode=fields.get("last", ""),
        files=files,
        kept=[p for p in fields.get("kept", "").split(",") if p],
    )


def _probe(ctx: PodContext) -> Probe:
    spec = ctx.spec
    proc = ctx.script(
        _PROBE,
        [
            spec.agent_command,
            spec.agent_kind,
            TMUX_SESSION,
            spec.permission_mode or "",
            spec.interactive_permission_mode or "",
            *(part for link in secret_file_links(spec) for part in link),
        ],
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
    before_launch: Callable[[], object] | None = None,
) -> AgentState | None:
    """Install the helper, register hooks (Claude Code), launch the agent unless it runs.

    Idempotent: start, resume and attach all call it. One exec when everything is in place.
    `before_launch` blocks until the agent may start (the workspace is filled meanwhile).
    Returns the agent's state as the launch left it (None when there was no launch).
    """
    cancel.check()
    probe = _probe(ctx)
    for path in probe.kept:
        reporter.warn(
            f"~/{path} exists in the pod and is not Kodama's link: --secret-file not linked"
        )
    if ctx.spec.agent_kind == "claude":
        prepare_claude(ctx, probe, reporter, lambda: _probe(ctx))
    if before_launch is not None:
        before_launch()
    cancel.check()
    if probe.running:
        if prompt is not None:
            reporter.warn("the agent is already running; the prompt was not sent")
        return None
    if (
        prompt is None
        and resume
        and probe.last_mode == "prompt"
        and ctx.spec.agent_kind != "claude"
    ):
        # A headless run of another agent is a job that ended; running its command again
        # (interactively, without the prompt) could repeat its side effects. Claude Code is
        # different: it continues the conversation and does nothing until asked.
        reporter.info(
            "The agent's last run was headless and has ended: it is not started again "
            f"(`kubectl kodama logs {ctx.spec.name}` shows that run; attach starts it interactively)"
        )
        return None
    if prompt is None and not probe.tmux:
        reporter.info(
            "The image has no tmux: the agent starts when you attach and ends when you detach"
        )
        return None
    mode = "prompt" if prompt is not None else "interactive"
    what = "headless run" if prompt is not None else f"tmux session {TMUX_SESSION!r}"
    reporter.step("agent", f"Launching the agent ({what}): {ctx.spec.agent_command}")
    proc = ctx.script(
        _LAUNCH,
        [mode, "1" if resume else "0", TMUX_SESSION, str(SETTLE_TICKS)],
        input=prompt.encode() if prompt is not None else None,
        check=False,
        timeout=60,
        what="launching the agent",
    )
    if proc.returncode == 3:
        raise _launch_failure(ctx, proc.stdout.decode(errors="replace"), reporter)
    if proc.returncode != 0:
        detail = meaningful(proc.stderr)
        raise KodamaError(
            "could not launch the agent in the pod" + (f": {detail[-1]}" if detail else "")
        )
    _, marker, status = proc.stdout.decode(errors="replace").partition("@@kodama status\n")
    if not marker:
        return None
    try:
        return parse_status(status, ctx.spec.agent_kind)
    except Exception:  # written by the pod: a state that cannot be read is read again later
        return None


_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f]"
)


def _printable(line: str) -> str:
    """A line from the pod without terminal control sequences (they could rewrite the screen)."""
    return _CONTROL.sub("", line.replace("\t", " ")).strip()


def _launch_failure(ctx: PodContext, out: str, reporter: Reporter) -> KodamaError:
    """The agent ended at once: show its last lines, say what to do."""
    lines = out.split("\n")
    record = lines[1] if len(lines) > 1 else ""
    match = re.search(r'"exitCode":(-?\d+)', record)
    code = f" with code {match.group(1)}" if match else ""
    # tmux's own "Pane is dead (status N, <date>)" says nothing the exit code does not.
    tail = [
        _printable(line)
        for line in lines[2:]
        if line.strip() and not line.startswith("Pane is dead")
    ]
    for line in tail:
        reporter.warn(f"agent: {line}")
    last = tail[-1] if tail else ""
    name = ctx.spec.name
    return AgentLaunchFailed(
        f"the agent ({ctx.spec.agent_command}) exited at once{code}"
        + (f": {last}" if last else ""),
        hint=(
            f"the session is kept: fix the image or agent.command and `kubectl kodama resume "
            f"{name}`, or `kubectl kodama delete {name}`"
        ),
    )
