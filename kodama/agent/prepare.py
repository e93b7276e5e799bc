"""What the ensure step's probe saw in the pod, and Claude Code's files written from it.

Both files (hooks in ~/.claude/settings.json, first-run answers in ~/.claude.json) are merged
here and written by one exec, so a first start pays one round trip for them, not two.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from kodama.agent.firstrun import KEY_TAIL_PLACEHOLDER, KeyStatus, merge_first_run
from kodama.agent.state import merge_hooks
from kodama.events import Reporter
from kodama.k8s.runtime import PodContext

# Replace Claude Code's files with the texts on stdin, in one exec. $1 the key placeholder, $2 a
# boundary line that ends each text, then NAME SUM pairs in the order of the texts: NAME settings
# (~/.claude/settings.json) or claude.json (~/.claude.json), SUM its cksum at probe time ("-"
# when it was absent). Exit 75, writing nothing, when one changed since the probe read it. In
# ~/.claude.json the placeholder becomes the last 20 characters of the pod's API key; without a
# usable key that file is left alone (exit 76, the others written).
_WRITE_CLAUDE_FILES = r"""
ph=$1; b=$2; shift 2; pairs="$*"
target() {
    case "$1" in
    settings) f="$HOME/.claude/settings.json" ;;
    claude.json) f="$HOME/.claude.json" ;;
    *) exit 2 ;;
    esac
}
set -- $pairs
while [ "$#" -ge 2 ]; do
    target "$1"
    if [ "$2" != - ]; then
        [ -f "$f" ] && [ "$(cksum <"$f" | tr ' ' _)" = "$2" ] || { echo "$f changed" >&2; exit 75; }
    else
        [ ! -f "$f" ] || { echo "$f appeared" >&2; exit 75; }
    fi
    shift 2
done
t=$(printf '%s' "${ANTHROPIC_API_KEY:-}" | tail -c 20)
case "$t" in *[!A-Za-z0-9_-]*) t= ;; esac
umask 077
mkdir -p "$HOME/.kodama" "$HOME/.claude" || exit 1
P="$HOME/.kodama/claude-write.$$."
export P b
trap 'rm -f "$P"*' EXIT
n=0
set -- $pairs
while [ "$#" -ge 2 ]; do n=$((n + 1)); : >"$P$n" || exit 1; shift 2; done
awk 'BEGIN { i = 1 } $0 == ENVIRON["b"] { close(ENVIRON["P"] i); i++; next } { print > (ENVIRON["P"] i) }' || exit 1
rc=0; i=0
set -- $pairs
while [ "$#" -ge 2 ]; do
    target "$1"
    i=$((i + 1)); tmp="$P$i"
    if [ "$1" = claude.json ] && grep -q "$ph" "$tmp"; then
        if [ -z "$t" ]; then
            echo "no usable API key in the pod" >&2; rc=76; shift 2; continue
        fi
        sed "s/$ph/$t/g" "$tmp" >"$tmp.k" && mv -f "$tmp.k" "$tmp" || exit 1
    fi
    # Renamed next to the file first: the last step is an atomic rename in its own folder.
    mv -f "$tmp" "$f.kodama.$$" && mv -f "$f.kodama.$$" "$f" || exit 1
    shift 2
done
exit "$rc"
"""


@dataclass
class ClaudeFile:
    """A file of Claude Code's as the probe saw it (`text` None when absent)."""

    name: str  # "settings" (~/.claude/settings.json) or "claude.json" (~/.claude.json)
    sum: str  # cksum at probe time, "-" when absent
    text: str | None


@dataclass
class Probe:
    tmux: bool
    running: bool
    key: KeyStatus
    workspace: str
    last_mode: str = ""  # mode of the agent's last run: interactive, prompt, "" (never ran)
    files: dict[str, ClaudeFile] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # secret-file paths not linked (user's own)


# Where each file is, and what writing it is for (said when it cannot be written).
_CLAUDE_FILES = {
    "settings": ("~/.claude/settings.json", "registering the agent hooks"),
    "claude.json": ("~/.claude.json", "skipping Claude Code's first-run screens"),
}


def _merged(probe: Probe, reporter: Reporter) -> list[ClaudeFile]:
    """The files that change, with their new texts (sum: what the probe saw)."""
    writes = []
    for name in _CLAUDE_FILES:
        current = probe.files.get(name) or ClaudeFile(name, "-", None)
        if name == "settings":
            new, warning = merge_hooks(current.text)
        elif probe.workspace:
            new, warning = merge_first_run(current.text, probe.workspace, probe.key)
        else:
            continue
        if warning:
            reporter.warn(warning)
        if new is not None:
            writes.append(ClaudeFile(name, current.sum, new))
    return writes


def prepare_claude(
    ctx: PodContext, probe: Probe, reporter: Reporter, reprobe: Callable[[], Probe]
) -> None:
    """Hooks for the agent state, and the first-run answers Claude Code would have asked for;
    merged again with theirs if someone wrote one of the files meanwhile."""
    if not probe.workspace:
        reporter.warn("could not resolve the workspace folder in the pod; first-run screens kept")
    for attempt in range(3):
        writes = _merged(probe, reporter)
        if not writes:
            return
        boundary = f"@@kodama-end-{secrets.token_hex(8)}"
        data = "".join(
            (w.text or "") + ("" if (w.text or "").endswith("\n") else "\n") + boundary + "\n"
            for w in writes
        )
        proc = ctx.script(
            _WRITE_CLAUDE_FILES,
            [KEY_TAIL_PLACEHOLDER, boundary, *(part for w in writes for part in (w.name, w.sum))],
            input=data.encode(),
            check=False,
            timeout=60,
            what=" and ".join(_CLAUDE_FILES[w.name][1] for w in writes),
        )
        if proc.returncode == 0:
            return
        if proc.returncode == 76:  # the others were written
            path, what = _CLAUDE_FILES["claude.json"]
            reporter.warn(f"could not update {path} ({what})")
            return
        if proc.returncode != 75 or attempt == 2:
            for w in writes:
                path, what = _CLAUDE_FILES[w.name]
                reporter.warn(f"could not update {path} ({what})")
            return
        probe = reprobe()  # someone wrote a file meanwhile: merge again with theirs
