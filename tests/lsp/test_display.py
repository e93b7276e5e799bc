"""The server's `display` objects (docs/lsp-protocol.md "Display"), without a cluster or client."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from kodama_lsp.features import commands
from kodama_lsp.features.refresh import SESSIONS_CHANGED, SYNC_STATUS, Refresher

from kodama import present
from kodama.models import Session, Status, SyncState, SyncStatus


class _Server:
    """What Refresher uses of KodamaServer to publish: a notifier, a spawner, a log."""

    def __init__(self, sessions: list[Session]) -> None:
        self.sessions = sessions
        self.sent: list[tuple[str, Any]] = []
        self.options = SimpleNamespace(refresh_interval=5)
        self.protocol = SimpleNamespace(notify=lambda m, p: self.sent.append((m, p)))

    async def in_thread(self, fn: Callable[[], Any]) -> Any:
        return fn()

    def spawn(self, coro: Any) -> None:
        coro.close()

    def log(self, *_: Any) -> None:
        pass


def look(refresher: Refresher, ls: _Server) -> None:
    """What a refresh sends for the sessions it found (the watches and reads are elsewhere)."""
    refresher.publish([s.model_copy() for s in ls.sessions])


def _changed(ls: _Server) -> list[Any]:
    return [p["sessions"] for m, p in ls.sent if m == SESSIONS_CHANGED]


def test_sessions_changed_carries_display_and_ignores_a_clock_that_moved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = Session(
        name="a",
        namespace="dev",
        status=Status.STOPPED,
        reason="idle stop at 09:00",
        created_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    )
    ls = _Server([s])
    refresher = Refresher(ls)  # type: ignore[arg-type]
    look(refresher, ls)
    (first,) = _changed(ls)
    shown = first[0]["display"]
    assert shown["status"] == "Stopped (idle stop at 09:00)"
    assert shown["actions"] == ["resume", "delete"]
    assert {k: v for k, v in first[0].items() if k != "display"} == s.to_json_dict()

    # The clock moves on: every look words the age differently, the raw fields stay the same.
    looks = itertools.count(1)
    real = present.display
    monkeypatch.setattr(present, "display", lambda s: real(s) | {"age": f"{next(looks)}m"})
    look(refresher, ls)
    look(refresher, ls)
    assert len(_changed(ls)) == 1  # no notification for an age that moved alone

    ls.sessions = [s.model_copy(update={"status": Status.RUNNING, "reason": None})]
    look(refresher, ls)
    assert _changed(ls)[-1][0]["display"]["actions"] == present.actions(ls.sessions[0])


def test_sync_status_notification_and_results_carry_the_sync_words() -> None:
    syncing = SyncStatus(name="a", state=SyncState.HALTED, last_error="root deleted")
    s = Session(name="a", namespace="dev", status=Status.RUNNING, sync=syncing)
    ls = _Server([s])
    refresher = Refresher(ls)  # type: ignore[arg-type]
    look(refresher, ls)
    ls.sessions = [s.model_copy(update={"sync": None})]
    look(refresher, ls)
    statuses = [p["status"] for m, p in ls.sent if m == SYNC_STATUS]
    assert [st["display"]["summary"] for st in statuses] == ["halted, error", "off"]
    assert statuses[1]["state"] == "off"  # a session that stopped syncing

    assert commands.sync_json(syncing)["display"]["detail"] == present.sync_report(syncing)
    # No times in `s`, so its words do not depend on when they are computed.
    assert commands.session_json(s)["display"] == present.display(s)
