"""The agent-state read schedule of an open editor (kodama.engine.pacing): pure, clock passed in."""

from __future__ import annotations

from kodama.engine.pacing import AgentPacer


def keys(n: int) -> list[tuple[str, str]]:
    return [("ns", f"s{i}") for i in range(n)]


def reads_in(pacer: AgentPacer[tuple[str, str]], start: float, seconds: float) -> int:
    """Reads handed out over `seconds`, ticking every 0.5 s as the refresher would at worst."""
    count, t = 0, start
    while t < start + seconds:
        count += len(pacer.due(t))
        t += 0.5
    return count


def settle(pacer: AgentPacer[tuple[str, str]], state: str, now: float) -> None:
    """Every tracked agent read once, in `state` for a long time."""
    for k in pacer.due(now):
        pacer.seen(k, state, now, changed_ago=3600)


def test_new_sessions_are_read_at_once_and_gone_ones_forgotten() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    pacer.track(keys(3))
    assert sorted(pacer.due(0.0)) == keys(3)
    assert pacer.due(0.1) == []
    pacer.track(keys(2))
    assert pacer.per_minute(0.1) == 2 * 60 / pacer.hot_every  # never seen: treated as hot
    assert set(pacer.intervals(0.1)) == set(keys(2))


def test_fifty_quiet_agents_stay_within_the_exec_budget_and_the_minute() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    pacer.track(keys(50))
    settle(pacer, "idle", 0.0)
    # Nothing changes for ten minutes: count what an editor would exec.
    total = reads_in(pacer, 1.0, 600.0)
    assert total / 10 <= 120
    assert max(pacer.intervals(700.0).values()) <= 60  # a waiting shows within the minute


def test_an_agent_that_worked_recently_is_read_often_then_cools_down() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    (k,) = keys(1)
    pacer.track([k])
    pacer.due(0.0)
    pacer.seen(k, "working", 0.0)
    assert pacer.intervals(1.0)[k] <= 15 - 3  # room for the exec and the notification
    pacer.due(20.0)
    pacer.seen(k, "working", 20.0)
    assert pacer.intervals(30.0)[k] == pacer.hot_every
    # It stops working (idle since 5 s before the read): still hot for ten minutes...
    pacer.due(60.0)
    assert pacer.seen(k, "idle", 60.0, changed_ago=5.0)
    assert pacer.intervals(60.0 + pacer.burst_for + 1)[k] == pacer.hot_every
    # ...then cold.
    assert pacer.intervals(60.0 + pacer.hot_window + 1)[k] == pacer.cold_every


def test_first_seen_idle_but_recently_stopped_counts_as_hot() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    a, b = keys(2)
    pacer.track([a, b])
    pacer.due(0.0)
    pacer.seen(a, "idle", 0.0, changed_ago=60.0)  # its turn ended a minute ago
    pacer.seen(b, "idle", 0.0, changed_ago=3600.0)
    got = pacer.intervals(1.0)
    assert got[a] == pacer.hot_every and got[b] == pacer.cold_every


def test_a_change_or_a_user_action_speeds_one_session_up_for_a_while() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    a, b = keys(2)
    pacer.track([a, b])
    settle(pacer, "idle", 0.0)
    pacer.poke(10.0, a)
    assert pacer.due(10.0) == [a]  # at once
    assert pacer.intervals(11.0)[a] == pacer.burst_every
    assert pacer.intervals(11.0)[b] == pacer.cold_every
    assert pacer.intervals(10.0 + pacer.burst_for + 1)[a] == pacer.hot_every  # acted on: hot
    # A state change seen by a read starts a burst too, and says it changed.
    assert pacer.seen(b, "waiting", 12.0)
    assert pacer.intervals(13.0)[b] == pacer.burst_every
    assert not pacer.seen(b, "waiting", 14.0)


def test_many_working_agents_the_freshest_keep_the_hot_pace_the_rest_the_cold_one() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    ks = keys(50)
    pacer.track(ks)
    pacer.due(0.0)
    for i, k in enumerate(ks):  # s0 began its turn an hour ago ... s49 a moment ago
        pacer.seen(k, "working", 0.0, changed_ago=3600.0 - i * 60)
    now = 1.0
    got = pacer.intervals(now)
    assert pacer.per_minute(now) <= pacer.budget_per_min
    assert got[ks[-1]] == pacer.hot_every and got[ks[0]] == pacer.cold_every
    fast = [k for k in ks if got[k] == pacer.hot_every]
    assert fast == ks[-len(fast) :] and len(fast) >= 8
    assert set(got.values()) == {pacer.hot_every, pacer.cold_every}
    # Ten working ones fit the budget at the hot pace.
    few: AgentPacer[tuple[str, str]] = AgentPacer()
    few.track(keys(10))
    settle(few, "working", 0.0)
    assert set(few.intervals(now).values()) == {few.hot_every}


def test_agents_without_hooks_are_read_at_the_cold_pace() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    a, b = keys(2)
    pacer.track([a, b], unhooked=[b])  # b's state is only "its process lives"
    pacer.due(0.0)
    pacer.seen(a, "working", 0.0)
    pacer.seen(b, "working", 0.0)
    got = pacer.intervals(1.0)
    assert got[a] == pacer.hot_every and got[b] == pacer.cold_every


def test_next_in_says_when_the_next_read_is_due() -> None:
    pacer: AgentPacer[tuple[str, str]] = AgentPacer()
    assert pacer.next_in(0.0) is None
    (k,) = keys(1)
    pacer.track([k])
    assert pacer.next_in(0.0) == 0.0
    pacer.due(0.0)
    pacer.seen(k, "idle", 0.0, changed_ago=3600)
    assert pacer.next_in(5.0) == pacer.cold_every - 5.0
