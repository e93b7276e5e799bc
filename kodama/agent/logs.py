"""The headless agent's log, readable: Claude Code's stream-json events become text.

Shared by the CLI's `logs` (line by line, as they stream) and the language server's
`kodama.session.logs` (the whole log at once)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kodama.events import CancelToken
from kodama.printable import printable


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_line(line: str) -> str | None:
    """One line of the headless log, readable and safe to print (see _render_line)."""
    shown = _render_line(line)
    return None if shown is None else printable(shown)


def _render_line(line: str) -> str | None:
    """One line of the headless log, readable: Claude Code's stream-json becomes text.

    Lines that are not stream-json events (other agents, Kodama's own markers) pass through.
    """
    stripped = line.strip()
    if not stripped.startswith("{"):
        return line.rstrip("\n")
    try:
        event = json.loads(stripped)
    except ValueError:
        return line.rstrip("\n")
    if not isinstance(event, dict) or "type" not in event:
        return line.rstrip("\n")
    kind = event.get("type")
    if kind == "system" and event.get("subtype") == "init":
        return f"[session {event.get('session_id', '?')} · model {event.get('model', '?')}]"
    if kind == "assistant":
        out = []
        for block in (event.get("message") or {}).get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                out.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                out.append(f"→ {block.get('name')}: {_short(block.get('input'))}")
        return "\n".join(out) if out else None
    if kind == "result":
        secs = (event.get("duration_ms") or 0) / 1000
        cost = event.get("total_cost_usd")
        info = f"{event.get('subtype', '?')}, {secs:.1f}s" + (
            f", ${cost:.4f}" if isinstance(cost, int | float) else ""
        )
        return f"== result ({info}): {event.get('result', '')}"
    return None  # tool results, system chatter: in --raw only


def render(text: str, *, raw: bool = False) -> list[str]:
    """A whole log as the lines `kubectl kodama logs` prints (`raw`: as they are, made safe)."""
    shown: list[str] = []
    for line in text.splitlines():
        out = printable(line) if raw else render_line(line)
        if out is not None:
            shown.append(out)
    return shown


def read(
    argv: Sequence[str], name: str, *, raw: bool = False, cancel: CancelToken | None = None
) -> list[str]:
    """Run the engine's `logs_argv` to its end and render what it printed."""
    from kodama import proc
    from kodama.agent.control import logs_error
    from kodama.k8s.kubectl import is_kubectl_noise

    done = proc.run(
        argv, cancel=cancel or CancelToken(), timeout=120, what=f"reading the log of {name}"
    )
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").splitlines()
        raise logs_error(name, done.returncode, [ln for ln in stderr if not is_kubectl_noise(ln)])
    return render(done.stdout.decode(errors="replace"), raw=raw)
