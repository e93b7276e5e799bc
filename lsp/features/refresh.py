"""Background refresh: kodama/sessionsChanged, kodama/agentState, kodama/syncStatus.

Runs only between `initialized` and `shutdown`, every refreshInterval seconds (sooner after a
command changed something), and notifies only what changed since the last look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from kodama import present
from kodama.errors import KodamaError
from kodama.models import AgentStateName, Session, SyncStatus

if TYPE_CHECKING:
    from ..server import KodamaServer

log = logging.getLogger(__name__)

SESSIONS_CHANGED = "kodama/sessionsChanged"
AGENT_STATE = "kodama/agentState"
SYNC_STATUS = "kodama/syncStatus"


class Refresher:
    def __init__(self, ls: KodamaServer) -> None:
        self.ls = ls
        self.sessions: list[Session] = []  # last known (code actions read it; no API call)
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._last: list[dict[str, Any]] | None = None
        self._agents: dict[tuple[str, str], dict[str, Any]] = {}
        self._syncs: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._last_error: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def poke(self) -> None:
        """Refresh now (after a command changed sessions)."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.ls.options.refresh_interval)
            self._wake.clear()

    async def tick(self) -> None:
        engine = self.ls.engine()

        def look() -> list[Session]:
            return engine.list_sessions()  # with the sync state of sessions this machine syncs

        try:
            sessions = await self.ls.in_thread(look)
        except KodamaError as exc:
            if exc.message != self._last_error:  # say it once, not every few seconds
                self._last_error = exc.message
                self.ls.log(f"refresh: {exc.message}", types.MessageType.Warning)
            return
        self._last_error = None
        self.sessions = sessions
        data = [s.to_json_dict() for s in sessions]
        # Only raw fields count as a change: an age that moved alone is the client's to tick.
        if data != self._last:
            self._last = data
            shown = [
                {**d, "display": present.display(s)} for d, s in zip(data, sessions, strict=True)
            ]
            self.ls.protocol.notify(SESSIONS_CHANGED, {"sessions": shown})
        self._agent_states(sessions)
        self._sync_states(sessions)

    def _agent_states(self, sessions: list[Session]) -> None:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for s in sessions:
            key = (s.namespace, s.name)
            state = s.agent.to_json_dict()
            seen[key] = state
            before = self._agents.get(key)
            if state == before:
                continue
            self.ls.protocol.notify(
                AGENT_STATE, {"name": s.name, "namespace": s.namespace, **state}
            )
            was_waiting = before is not None and before.get("state") == AgentStateName.WAITING
            if s.agent.state == AgentStateName.WAITING and not was_waiting:
                self.ls.spawn(self._waiting(s))
        self._agents = seen

    async def _waiting(self, s: Session) -> None:
        from ..features.commands import ask, open_attach

        message = f"Session {s.name} is waiting for you: {s.agent.message or 'input needed'}"
        if await ask(self.ls, message, ["Attach"]) != "Attach":
            return
        try:
            await open_attach(self.ls, s.name, s.namespace)
        except KodamaError as exc:
            self.ls.show_error(exc.message)

    def _sync_states(self, sessions: list[Session]) -> None:
        seen: dict[tuple[str, str], dict[str, Any] | None] = {}
        for s in sessions:
            key = (s.namespace, s.name)
            status = s.sync.to_json_dict() if s.sync is not None else None
            seen[key] = status
            if key not in self._syncs and status is None:
                continue
            if self._syncs.get(key) != status:
                st = s.sync or SyncStatus(name=s.name)
                payload = {**st.to_json_dict(), "display": present.sync_display(st)}
                self.ls.protocol.notify(SYNC_STATUS, {"name": s.name, "status": payload})
        self._syncs = seen
