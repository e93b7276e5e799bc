"""When to read each Running session's agent state again (pure: the caller owns the clock).

Every read is an exec through the API server, so an open editor must not read 50 agents every
few seconds. The pace follows what the user is likely to need:

- right after a user action on a session, or a change of its agent state: every BURST_EVERY s
  for BURST_FOR s (the next state usually follows soon);
- an agent that worked in the last HOT_WINDOW s ("hot"): every HOT_EVERY s, so that a turn to
  "waiting for you" shows within ~15 s;
- any other (idle, waiting or exited for a while): every COLD_EVERY s (shows within ~60 s);
- an agent without hooks (not Claude Code: its state is only "its process lives") can only go
  from working to exited, never to "waiting": the cold pace;
- all reads together stay under BUDGET_PER_MIN: when hot agents would need more, those whose state
  changed most recently keep the hot pace and the others fall back to the cold one (bursts and
  cold reads come first).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

ACTIVE_STATES = frozenset({"working", "starting"})
HOT_WINDOW = 600.0
HOT_EVERY = 10.0
COLD_EVERY = 45.0
BURST_EVERY = 2.0
BURST_FOR = 30.0
BUDGET_PER_MIN = 110.0


@dataclass
class _Agent:
    state: str | None = None
    read_at: float | None = None  # when the last read was handed out
    active_at: float | None = None  # last moment it was known to work
    changed_at: float | None = None  # when its state last changed (or began, from `since`)
    burst_until: float = 0.0
    hooked: bool = True  # its agent reports states (else only alive or exited)


@dataclass
class AgentPacer(Generic[K]):
    hot_every: float = HOT_EVERY
    cold_every: float = COLD_EVERY
    burst_every: float = BURST_EVERY
    burst_for: float = BURST_FOR
    hot_window: float = HOT_WINDOW
    budget_per_min: float = BUDGET_PER_MIN
    _agents: dict[K, _Agent] = field(default_factory=dict)

    def track(self, keys: Iterable[K], unhooked: Iterable[K] = ()) -> None:
        """The sessions that are Running now: others are forgotten, new ones are due at once.
        `unhooked`: those whose agent reports no states (never "waiting")."""
        keep = set(keys)
        quiet = set(unhooked)
        for key in list(self._agents):
            if key not in keep:
                del self._agents[key]
        for key in keep:
            self._agents.setdefault(key, _Agent()).hooked = key not in quiet

    def tracks(self, key: K) -> bool:
        return key in self._agents

    def poke(self, now: float, key: K | None = None) -> None:
        """A user action: read that session (or every one) soon and often for a while, then
        as an active one (the user just asked it for something)."""
        for k, agent in self._agents.items():
            if key is None or k == key:
                agent.burst_until = now + self.burst_for
                agent.active_at = now
                agent.read_at = None  # due right away

    def seen(self, key: K, state: str, now: float, changed_ago: float | None = None) -> bool:
        """Record a read. `changed_ago`: seconds since the agent entered `state` (its `since`).
        True when the state differs from the previous read."""
        agent = self._agents.get(key)
        if agent is None:
            return False
        changed = agent.state is not None and agent.state != state
        agent.state = state
        if changed:
            agent.burst_until = now + self.burst_for
            agent.changed_at = now
        elif agent.changed_at is None and changed_ago is not None:
            agent.changed_at = now - max(changed_ago, 0.0)
        if state in ACTIVE_STATES:
            agent.active_at = now
        elif changed:
            agent.active_at = now  # it just left a state we saw: count as recent activity
        elif changed_ago is not None and changed_ago < self.hot_window:
            # It stopped working recently (before we first saw it): the end of a turn.
            since = now - max(changed_ago, 0.0)
            agent.active_at = max(agent.active_at or since, since)
        return changed

    def _hot(self, agent: _Agent, now: float) -> bool:
        if agent.state is None or agent.state in ACTIVE_STATES:
            return True
        return agent.active_at is not None and now - agent.active_at < self.hot_window

    def intervals(self, now: float) -> dict[K, float]:
        """Seconds between reads of each tracked agent, within the budget when possible."""
        out: dict[K, float] = {}
        hot: list[K] = []
        for k, a in self._agents.items():
            if now < a.burst_until:
                out[k] = self.burst_every
            elif a.hooked and self._hot(a, now):
                hot.append(k)
            else:
                out[k] = self.cold_every
        rate = sum(60.0 / every for every in out.values())
        # The most recently changed first: a turn that just began is likelier to end soon.
        hot.sort(key=lambda k: self._agents[k].changed_at or float("-inf"), reverse=True)
        for i, k in enumerate(hot):
            rest = (len(hot) - i - 1) * 60.0 / self.cold_every
            if rate + 60.0 / self.hot_every + rest <= self.budget_per_min:
                out[k] = self.hot_every
            else:
                out[k] = self.cold_every
            rate += 60.0 / out[k]
        return out

    def due(self, now: float) -> list[K]:
        """The agents to read now (their read is counted as handed out)."""
        out: list[K] = []
        for k, every in self.intervals(now).items():
            agent = self._agents[k]
            if agent.read_at is None or now - agent.read_at >= every:
                agent.read_at = now
                out.append(k)
        return out

    def next_in(self, now: float) -> float | None:
        """Seconds until the next agent is due; None when nothing is tracked."""
        waits: list[float] = []
        for k, every in self.intervals(now).items():
            read_at = self._agents[k].read_at
            waits.append(0.0 if read_at is None else read_at + every - now)
        return max(min(waits), 0.0) if waits else None

    def per_minute(self, now: float) -> float:
        """Reads a minute at the current pace (what the budget bounds)."""
        return sum(60.0 / every for every in self.intervals(now).values())
