"""How a session reads to a person: the one place that turns engine models into words.

The CLI prints these strings and the language server sends them as each session's `display`
object, so the terminal, VS Code and Neovim say the same thing. Pure: no I/O, no front end.
tests/fixtures/presentation.json pins the output; the extension's and Neovim's tests read the same
file for what they still compute themselves (a ticking age, a name's validity in an input box).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kodama.errors import InvalidInput
from kodama.models import (
    AgentState,
    AgentStateName,
    FetchResult,
    Session,
    Status,
    SyncState,
    SyncStatus,
)
from kodama.validation import MAX_SESSION_NAME, validate_session_name

UNKNOWN = "-"

# Which verbs apply in which status. Attach, logs and fetch exec into a ready pod, so only a
# Running session offers them; resume makes sense once no healthy pod runs (a Failed session's pod
# is replaced); stop deletes whatever pod there is, so it is not offered once it is gone.
_ACTIONS: dict[Status, tuple[str, ...]] = {
    Status.PENDING: ("stop", "delete"),
    Status.STARTING: ("stop", "delete"),
    Status.RUNNING: ("attach", "logs", "fetch", "sync", "stop", "delete"),
    Status.STOPPED: ("resume", "delete"),
    Status.FAILED: ("resume", "stop", "delete"),
}
ACTIONS: tuple[str, ...] = ("attach", "logs", "fetch", "sync", "stop", "resume", "delete")

# Sync states that are about moving files; in them a lost connection is worth saying.
_ACTIVE_SYNC = {
    SyncState.SCANNING,
    SyncState.RECONCILING,
    SyncState.STAGING,
    SyncState.TRANSITIONING,
    SyncState.SAVING,
    SyncState.WATCHING,
}
# No mutagen sync runs in these: whether it is connected means nothing.
_NOT_RUNNING = {SyncState.OFF, SyncState.STOPPED, SyncState.UNAVAILABLE}


def age(ts: datetime | None, now: datetime | None = None) -> str:
    """kubectl-style short age: 45s under two minutes, 90m under three hours, 5h, 4d."""
    if ts is None:
        return UNKNOWN
    now = now or datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    secs = max(0, int((now - ts).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    if secs < 3 * 3600:
        return f"{secs // 60}m"
    if secs < 48 * 3600:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def status_line(s: Session) -> str:
    """`Running`, `Failed (the home PVC is missing)`: the status and why, when there is a why."""
    return f"{s.status.value} ({s.reason})" if s.reason else s.status.value


def agent_label(a: AgentState) -> str:
    """The agent cell without its duration: `working`, `exited(1)`, `-` when nothing is known."""
    if a.state == AgentStateName.UNKNOWN:
        return UNKNOWN
    if a.state == AgentStateName.EXITED and a.exit_code is not None:
        return f"exited({a.exit_code})"
    return a.state.value


def agent_cell(a: AgentState, now: datetime | None = None) -> str:
    """`working 3m`, `exited(1) 2m`, `-` when nothing is known: the label, then age(since).

    Clients tick the duration between notifications with the same rule (display.agentLabel and
    display.agentSince; tests/fixtures/presentation.json pins it), so the label is the only word
    they are given rather than compute.
    """
    label = agent_label(a)
    if label == UNKNOWN or not a.since:
        return label
    return f"{label} {age(a.since, now)}"


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def sync_summary(st: SyncStatus | None) -> str:
    """A table cell: `off`, `watching`, `watching, 2 conflicts`, `halted, error`."""
    if st is None:
        return SyncState.OFF.value
    parts = [st.state.value]
    if st.state in _ACTIVE_SYNC and not st.connected:
        parts[0] += " (disconnected)"
    if st.conflicts:
        parts.append(_plural(len(st.conflicts), "conflict"))
    if st.last_error:
        parts.append("error")
    return ", ".join(parts)


def sync_lines(st: SyncStatus | None) -> list[str]:
    """The sync part of a session's details: the summary, then the error and each conflict."""
    lines = [f"Sync:        {sync_summary(st)}"]
    if st is None:
        return lines
    if st.last_error:
        lines.append(f"  Last error: {st.last_error}")
    lines += [f"  Conflict:   {c.path}" for c in st.conflicts]
    return lines


def sync_report(st: SyncStatus) -> list[str]:
    """`kubectl kodama sync status NAME`: connection, activity, last error, conflicts, a hint."""
    lines = [f"Session:     {st.name}"]
    if st.mutagen_session:
        lines.append(f"Mutagen:     {st.mutagen_session}")
    if st.local_path:
        lines.append(f"Local:       {st.local_path}")
    state = st.state.value
    if st.activity and st.activity != state:
        state += f" ({st.activity})"
    # mutagen's activity may already say it ("disconnected", "connecting"): say it once.
    if st.state not in _NOT_RUNNING and "connect" not in (st.activity or ""):
        state += ", connected" if st.connected else ", not connected"
    lines.append(f"State:       {state}")
    lines.append(f"Last error:  {st.last_error or UNKNOWN}")
    lines.append(f"Conflicts:   {len(st.conflicts)}")
    for c in st.conflicts:
        lines.append(f"  {c.path}  (local: {c.alpha or 'unchanged'}; pod: {c.beta or 'unchanged'})")
    if st.problems:
        lines.append(f"Problems:    {len(st.problems)}")
        lines += [f"  {p}" for p in st.problems]
    if st.state == SyncState.OFF:
        lines.append(f"hint: `kubectl kodama sync start {st.name}` starts file sync")
    elif st.conflicts:
        lines.append(
            "hint: conflicts are never resolved for you: keep one side's version "
            "(edit or delete the file on the other side) and the sync carries on"
        )
    return lines


def fetch_summary(r: FetchResult) -> str:
    """What a fetch did, in one line (the CLI's last progress line, the editors' message)."""
    where = f" of {r.repository}" if r.repository else ""
    ahead = ""
    if r.ahead is not None:
        ahead = f", {_plural(r.ahead, 'commit')} ahead of {r.base_branch or 'its base'}"
    return (
        f"Fetched {r.branch or 'the session branch'} into {r.local_branch}{where} "
        f"({r.commit[:12]}{ahead})"
    )


def actions(s: Session) -> list[str]:
    """The verbs a front end offers for this session now, in menu order."""
    return list(_ACTIONS[s.status])


def detail_lines(s: Session, now: datetime | None = None) -> list[str]:
    """A session described for a person: `kubectl kodama get NAME`, the editors' details."""
    now = now or datetime.now(UTC)
    lines = [
        f"Name:        {s.name}",
        f"Namespace:   {s.namespace}",
        f"Status:      {status_line(s)}",
        f"Agent:       {agent_cell(s.agent, now)}"
        + (f" — {s.agent.message}" if s.agent.message else ""),
        f"Branch:      {s.branch or UNKNOWN}"
        + (f" ({s.ahead} ahead of base)" if s.ahead is not None else ""),
        f"Base:        {s.base_branch or UNKNOWN} {(s.base_commit or '')[:12]}".rstrip(),
    ]
    if s.family:
        lines.append(f"Family:      {s.family} (`kubectl kodama compare {s.family}`)")
    if s.idle_stop:
        from kodama.agent.idle import format_duration

        lines.append(f"Idle stop:   after {format_duration(s.idle_stop)} idle, nobody attached")
    if s.repo:
        lines.append(f"Repository:  {s.repo}")
    lines += [
        f"Image:       {s.image or UNKNOWN}",
        f"Pod:         {s.pod or UNKNOWN}" + (f" on {s.node}" if s.node else ""),
        f"PVCs:        {', '.join(s.pvcs) or UNKNOWN}",
        f"Local path:  {s.local_path or UNKNOWN}",
        f"Age:         {age(s.created_at, now)}",
    ]
    if s.sync is not None:
        lines += sync_lines(s.sync)
    if s.events:
        lines.append("Events:")
        lines += [f"  {e}" for e in s.events]
    return lines


def name_problem(name: str) -> str | None:
    """What an editor's name box says while a name is typed (None: acceptable).

    The engine's rule (kodama/validation.py) in an input box's words; the server checks again
    with the CLI's wording. The extension and Neovim check as the user types, before any call.
    """
    if not name:
        return "Enter a session name."
    if len(name) > MAX_SESSION_NAME:
        return f"At most {MAX_SESSION_NAME} characters."
    try:
        validate_session_name(name)
    except InvalidInput:
        return "Lowercase letters, digits and '-', starting and ending with a letter or digit."
    return None


def _counts(sessions: Sequence[Session]) -> tuple[int, int]:
    running = sum(1 for s in sessions if s.status == Status.RUNNING)
    waiting = sum(1 for s in sessions if s.agent.state == AgentStateName.WAITING)
    return running, waiting


def sessions_summary(sessions: Sequence[Session]) -> str:
    """A list of sessions in a few words for a status line: `2 running, 1 waiting`; `` when
    nothing runs or waits. Clients count their own list (it changes by notifications) with this
    rule, pinned by tests/fixtures/presentation.json."""
    running, waiting = _counts(sessions)
    if running == 0 and waiting == 0:
        return ""
    return f"{running} running" + (f", {waiting} waiting" if waiting else "")


def family_summary(sessions: Sequence[Session]) -> str:
    """A fan-out's sessions in a few words: `fan-out · 3 sessions · 2 running`."""
    running, _ = _counts(sessions)
    return f"fan-out · {_plural(len(sessions), 'session')} · {running} running"


def sync_display(st: SyncStatus) -> dict[str, Any]:
    """The `display` of a kodama.sync.* result: the table cell and `sync status`'s lines."""
    return {"summary": sync_summary(st), "detail": sync_report(st)}


def display(s: Session, now: datetime | None = None) -> dict[str, Any]:
    """The `display` object the language server sends beside a session's raw fields."""
    now = now or datetime.now(UTC)
    label = agent_label(s.agent)
    return {
        "status": status_line(s),
        "age": age(s.created_at, now),
        "agent": agent_cell(s.agent, now),
        # What a client ticks the agent cell from: `agentLabel + " " + age(agentSince)`, or the
        # label alone when agentSince is null (docs/lsp-protocol.md).
        "agentLabel": label,
        "agentSince": _iso(s.agent.since) if label != UNKNOWN else None,
        "sync": sync_summary(s.sync),
        "actions": actions(s),
        "detail": detail_lines(s, now),
    }
