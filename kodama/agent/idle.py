"""Idle stop without a controller: the pod's main process ends the pod when the agent is done.

No controller, nothing outside the pod, no ServiceAccount token: the container's main process
(the pod spec's command, so no image entrypoint is involved) polls `kodama-agent quiet` and exits
0 once the agent has been idle or exited, with nobody attached, for the configured time. The pod
runs with restartPolicy OnFailure, so that clean exit leaves it Succeeded: its CPU and memory go
back to the cluster, both PVCs stay, and `resume` replaces the pod as after `stop`. The reason
("idle since …") goes to the container's termination message, where status derivation reads it.

Pure: durations and the main process's script; no I/O.
"""

from __future__ import annotations

import re

from kodama.errors import InvalidInput

IDLE_REASON_PREFIX = "idle since "
WATCHER_NAME = "kodama-idle-stop"  # $0 of the main process: how status derivation knows it
MIN_IDLE_STOP = 10  # seconds; shorter would stop a pod between two steps of `start`

_PART = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int | float, what: str = "idle stop") -> int | None:
    """Seconds of "30m", "1h30m", "45s", "2h", 90 (seconds); None for "off"/"0"."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid {what} {value!r}: expected a duration such as 30m or 1h")
    if isinstance(value, int | float):
        seconds = int(value)
    else:
        text = value.strip().lower()
        if text in ("", "off", "none", "never", "0"):
            return None
        if text.isdigit():
            seconds = int(text)
        else:
            pos = 0
            seconds = 0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += int(m.group(1)) * _UNIT[m.group(2)]
                pos = m.end()
            if pos != len(text) or pos == 0:
                raise InvalidInput(
                    f"invalid {what} {value!r}: expected a duration such as 30m, 1h30m or 45s"
                )
    if seconds <= 0:
        return None
    if seconds < MIN_IDLE_STOP:
        raise InvalidInput(f"{what} must be at least {MIN_IDLE_STOP}s (got {seconds}s)")
    return seconds


def format_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    h, rest = divmod(s, 3600)
    return f"{h}h{rest // 60:02d}m" if rest // 60 else f"{h}h"


def tick(idle_seconds: int) -> int:
    """How often the main process looks: a quarter of the idle time, between 2 s and 30 s."""
    return max(2, min(30, idle_seconds // 4))


# The container's main process. $1: idle seconds, $2: seconds between looks.
# The token in $HOME/.kodama/boot is copied to .kodama/ensured by the ensure step (exec): until
# Kodama has set this pod up (shipped the repo, launched the agent), the pod never counts as idle.
WATCHER = r"""
trap 'exit 0' TERM INT
k="$HOME/.kodama"; a="$k/bin/kodama-agent"
mkdir -p "$k" 2>/dev/null
boot=$(od -An -N8 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
[ -n "$boot" ] || boot="$(date +%s)-$$"
printf '%s\n' "$boot" >"$k/boot.tmp.$$" && mv -f "$k/boot.tmp.$$" "$k/boot"
q=
while :; do
    sleep "$2" &
    wait $!
    if [ -f "$a" ] && [ "$(cat "$k/ensured" 2>/dev/null)" = "$boot" ] && sh "$a" quiet; then
        now=$(date +%s)
        if [ -z "$q" ]; then q=$now; qs=$(date -u +%Y-%m-%dT%H:%M:%SZ); fi
        if [ $((now - q)) -ge "$1" ]; then
            msg="idle since $qs"
            echo "kodama: $msg: the pod ends (its PVCs stay; resume brings it back)"
            if [ -w /dev/termination-log ]; then printf '%s' "$msg" >/dev/termination-log; fi
            exit 0
        fi
    else
        q=
    fi
done
"""


def watcher_command(idle_seconds: int) -> list[str]:
    return [
        "/bin/sh",
        "-c",
        WATCHER,
        WATCHER_NAME,
        str(idle_seconds),
        str(tick(idle_seconds)),
    ]


def idle_reason(message: str | None) -> str | None:
    """The reason of a pod that ended itself for being idle, from its termination message."""
    text = (message or "").strip()
    if text.startswith(IDLE_REASON_PREFIX) and len(text) < 80:
        return text
    return None
