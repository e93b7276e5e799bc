"""Background refresh: kodama/sessionsChanged, kodama/agentState, kodama/syncStatus.

Runs only between `initialized` and `shutdown`. Sessions come from the engine's SessionWatch
(one list, then watches of PVCs and pods: a session created or deleted anywhere shows without
any re-list). Agent states are execs, so they are read only for Running sessions, at the pace
of kodama.engine.pacing (fast after a command or a change, slow while nothing changes). Sync
states are local and looked at every refreshInterval. Only what changed is notified.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from kodama import present
from kodama.errors import KodamaError
from kodama.models import AgentState, AgentStateName, Session, Status, SyncStatus

if TYPE_CHECKING:
    from kodama.engine.pacing import AgentPacer
    from kodama.engine.watch import SessionWatch

    from ..server import KodamaServer

log = logging.getLogger(__name__)

SESSIONS_CHANGED = "kodama/sessionsChanged"
AGENT_STATE = "kodama/agentState"
SYNC_STATUS = "kodama/syncStatus"
AGENT_READERS = 4  # execs at once: a burst of 50 due agents must not crowd the API server
AGENT_WAIT = 2.0  # seconds a look waits for its agent reads before it publishes

Key = tuple[str, str]


class Refresher:
    def __init__(self, ls: KodamaServer) -> None:
        self.ls = ls
        self.sessions: list[Session] = []  # last known (code actions read it; no API call)
        self.watch: SessionWatch | None = None
        self._pacer: AgentPacer[Key] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._last: list[dict[str, Any]] | None = None
        self._agents: dict[tuple[str, str], dict[str, Any]] = {}
        self._syncs: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._last_error: str | None = None
        self._read: dict[Key, AgentState] = {}  # the last read of each Running agent
        self._sync_read: dict[Key, SyncStatus] = {}
        self._seen_version = -1
        self._sync_next = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._poked: dict[str, float] = {}  # session or family name -> when a command poked it
        self._reading: dict[Key, asyncio.Future[AgentState]] = {}
        self._agents_dirty = False  # a read changed a state since the last publish
        # the last `kodama.session.list` answer and what it was made of (listed())
        self._listed: tuple[list[Session], dict[Key, AgentState], dict[Key, SyncStatus], int,
                            list[dict[str, Any]]] | None = None  # fmt: skip

    @property
    def pacer(self) -> AgentPacer[Key]:
        if self._pacer is None:
            # kodama.engine brings the kubernetes client: not before `initialize` is answered.
            from kodama.engine.pacing import AgentPacer

            self._pacer = AgentPacer()
        return self._pacer

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def poke(self, name: str | None = None) -> None:
        """A command changed something: look at sync states now and, for session (or family)
        `name`, read its agent soon and often for a while. The watches bring the objects."""
        if name is not None:
            self._poked[name] = time.monotonic()
        self._sync_next = 0.0
        self._wake_up()

    def _apply_pokes(self, now: float) -> None:
        """Pokes wait until their session is seen Running (a start pokes before that)."""
        for name, at in list(self._poked.items()):
            hits = [s for s in self.sessions if name in (s.name, s.family)]
            for s in hits:
                self.pacer.poke(at, (s.namespace, s.name))
            if hits or now - at > self.pacer.burst_for:
                del self._poked[name]

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            delay = self.ls.options.refresh_interval
            try:
                delay = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    def _say(self, error: KodamaError | None) -> None:
        """A failing refresh is logged once, not every few seconds."""
        message = None if error is None else error.message
        if message is not None and message != self._last_error:
            self.ls.log(f"refresh: {message}", types.MessageType.Warning)
        self._last_error = message

    async def _open_watch(self) -> SessionWatch:
        from kodama.engine.watch import SessionWatch

        from .local_facts import CachedStore

        loop = asyncio.get_running_loop()
        engine = self.ls.engine(store=CachedStore())
        namespace = await self.ls.in_thread(engine.namespace)  # reads the kubeconfig
        # A bad kubeconfig fails here, once, rather than in the watch threads.
        await self.ls.in_thread(lambda: engine.cluster)

        def changed() -> None:  # called from the watch threads
            loop.call_soon_threadsafe(self._wake_up)

        watch = SessionWatch(engine, namespace, changed)
        watch.start()
        return watch

    async def tick(self) -> float:
        """One look; returns the seconds until the next one is needed (sooner if woken)."""
        interval = self.ls.options.refresh_interval
        if self.watch is None:
            try:
                self.watch = await self._open_watch()
            except KodamaError as exc:
                self._say(exc)
                return interval
        watch = self.watch
        self._say(watch.error)
        if not watch.synced:
            return interval  # woken by the watch as soon as its first lists are in
        now = time.monotonic()
        changed = watch.version != self._seen_version
        if changed:
            self._seen_version = watch.version
            self.sessions = await self.ls.in_thread(watch.sessions)
            running = {(s.namespace, s.name) for s in self.sessions if s.status == Status.RUNNING}
            self.pacer.track(running, [k for k in running if not watch.hooked(k)])
            self._read = {k: v for k, v in self._read.items() if k in running}
        self._apply_pokes(now)
        changed = await self._read_agents(watch, now) or changed
        if now >= self._sync_next:
            self._sync_next = now + interval
            with contextlib.suppress(KodamaError):
                syncs = await self.ls.in_thread(watch.sync_statuses)
                changed = changed or syncs != self._sync_read
                self._sync_read = syncs
        if changed:
            for s in self.sessions:
                key = (s.namespace, s.name)
                s.agent = self._read.get(key) or AgentState()
                s.sync = self._sync_read.get(key)
            sessions = self.sessions
            # Dumping 50 sessions takes a while: not on the loop that answers requests.
            data = await self.ls.in_thread(lambda: [s.to_json_dict() for s in sessions])
            self.publish(sessions, data)
        wait = self.pacer.next_in(time.monotonic())
        return min(interval if wait is None else wait, max(self._sync_next - now, 0.1))

    async def _read_agents(self, watch: SessionWatch, now: float) -> bool:
        """Read the agents that are due; True when one of them changed. Waits AGENT_WAIT s at
        most: a read still running then (a pod that does not answer) lands in a later tick."""
        changed, self._agents_dirty = self._agents_dirty, False
        due = [k for k in self.pacer.due(now) if k not in self._reading]
        if not due:
            return changed
        if self._pool is None:
            self._pool = ThreadPoolExecutor(AGENT_READERS, thread_name_prefix="kodama-agent")
        loop = asyncio.get_running_loop()
        futures = []
        for key in due:
            future = loop.run_in_executor(self._pool, watch.agent_state, key)
            self._reading[key] = future
            future.add_done_callback(functools.partial(self._agent_read, key))
            futures.append(future)
        await asyncio.wait(futures, timeout=AGENT_WAIT)
        changed, self._agents_dirty = changed or self._agents_dirty, False
        return changed

    def _agent_read(self, key: Key, future: asyncio.Future[AgentState]) -> None:
        """One read done (on the loop): note it; a late one wakes the refresher to publish."""
        self._reading.pop(key, None)
        if future.cancelled() or future.exception() is not None or self._pacer is None:
            return
        state = future.result()
        ago = None if state.since is None else time.time() - state.since.timestamp()
        self.pacer.seen(key, state.state.value, time.monotonic(), ago)
        if self.pacer.tracks(key) and self._read.get(key) != state:
            self._read[key] = state
            self._agents_dirty = True
            self._wake_up()

    async def listed(self) -> list[dict[str, Any]] | None:
        """`kodama.session.list` of the server's namespace from the watches (no API call), with
        the agent and sync states as last read (a command that changes them pokes a new look).
        None when the watches cannot tell."""
        from .commands import session_json

        watch = self.watch
        if watch is None or not watch.synced or watch.error is not None:
            return None
        reads, syncs = dict(self._read), dict(self._sync_read)
        if watch.version == self._seen_version:
            # The last look is current: answered on the loop, no worker thread (a hop waits for
            # the GIL twice, slow while a start or a sync holds it; issue 18). Ages are shown in
            # whole seconds, so an answer holds for the rest of its second.
            key = (self.sessions, reads, syncs, int(time.time()))
            known = self._listed
            if known is not None and known[0] is key[0] and known[1:4] == key[1:]:
                return known[4]
            out = [
                session_json(
                    s.model_copy(
                        update={
                            "agent": reads.get((s.namespace, s.name)) or AgentState(),
                            "sync": syncs.get((s.namespace, s.name)),
                        }
                    )
                )
                for s in self.sessions
            ]
            self._listed = (*key, out)
            return out

        def build() -> list[dict[str, Any]]:
            sessions = watch.sessions()
            for s in sessions:
                key = (s.namespace, s.name)
                s.agent = reads.get(key) or AgentState()
                s.sync = syncs.get(key)
            return [session_json(s) for s in sessions]  # with the display words, as the API's

        return await self.ls.in_thread(build)

    def publish(self, sessions: list[Session], data: list[dict[str, Any]] | None = None) -> None:
        """Notify what changed; `data`: the sessions as JSON, when already made off the loop."""
        if data is None:
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
