"""kodama/present.py against the golden fixture the extension's and Neovim's tests read too."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kodama import present
from kodama.errors import InvalidInput
from kodama.models import FetchResult, Session, Status, SyncConflict, SyncState, SyncStatus
from kodama.validation import MAX_SESSION_NAME, validate_session_name

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "presentation.json"
GOLDEN: dict[str, Any] = json.loads(FIXTURE.read_text())
NOW = datetime.fromisoformat(GOLDEN["now"])


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@pytest.mark.parametrize("case", GOLDEN["age"], ids=lambda c: str(c["createdAt"]))
def test_age_matches_the_fixture(case: dict[str, Any]) -> None:
    assert present.age(_when(case["createdAt"]), NOW) == case["age"]


@pytest.mark.parametrize("case", GOLDEN["sessions"], ids=lambda c: c["case"])
def test_display_matches_the_fixture(case: dict[str, Any]) -> None:
    session = Session.model_validate(case["session"])
    assert present.display(session, NOW) == case["display"]


def test_fixture_sessions_are_what_the_engine_sends() -> None:
    # The clients' tests feed these sessions as the server would: raw fields as the engine dumps
    # them, so a renamed or retyped field fails here rather than only in a client.
    for case in GOLDEN["sessions"]:
        session = Session.model_validate(case["session"])
        dumped = session.to_json_dict()
        assert {k: dumped[k] for k in case["session"]} == case["session"]


def test_fixture_covers_every_status_and_action() -> None:
    statuses = {c["session"]["status"] for c in GOLDEN["sessions"]}
    assert statuses == {s.value for s in Status}
    offered = {a for c in GOLDEN["sessions"] for a in c["display"]["actions"]}
    assert offered == set(present.ACTIONS)


def test_name_rule_in_the_fixture_is_the_engines() -> None:
    assert GOLDEN["sessionName"]["maxLength"] == MAX_SESSION_NAME
    for case in GOLDEN["sessionName"]["cases"]:
        if case["valid"]:
            assert validate_session_name(case["name"]) == case["name"]
        else:
            with pytest.raises(InvalidInput):
                validate_session_name(case["name"])


def test_actions_follow_what_the_engine_accepts() -> None:
    def actions(status: Status) -> list[str]:
        return present.actions(Session(name="x", namespace="dev", status=status))

    # attach/logs/fetch exec into a ready pod: only a Running session has one.
    for status in Status:
        has_pod_verbs = {"attach", "logs", "fetch"} <= set(actions(status))
        assert has_pod_verbs == (status == Status.RUNNING)
    assert "resume" not in actions(Status.PENDING)
    assert "resume" not in actions(Status.RUNNING)
    assert "stop" not in actions(Status.STOPPED)
    assert all(actions(s)[-1] == "delete" for s in Status)


def test_sync_summary_words() -> None:
    assert present.sync_summary(None) == "off"
    st = SyncStatus(name="x", state=SyncState.WATCHING, connected=False)
    assert present.sync_summary(st) == "watching (disconnected)"
    st = SyncStatus(
        name="x",
        state=SyncState.HALTED,
        last_error="one side's folder was deleted",
        conflicts=[SyncConflict(path="a")],
    )
    assert present.sync_summary(st) == "halted, 1 conflict, error"
    assert present.sync_lines(st)[1:] == [
        "  Last error: one side's folder was deleted",
        "  Conflict:   a",
    ]


def test_fetch_summary() -> None:
    r = FetchResult(
        name="fix",
        branch="kodama/fix",
        local_branch="kodama/fix",
        commit="0123456789abcdef",
        ahead=1,
        base_branch="main",
        repository="/src/app",
    )
    assert present.fetch_summary(r) == (
        "Fetched kodama/fix into kodama/fix of /src/app (0123456789ab, 1 commit ahead of main)"
    )
    bare = r.model_copy(update={"ahead": None, "repository": None, "branch": None})
    assert (
        present.fetch_summary(bare) == "Fetched the session branch into kodama/fix (0123456789ab)"
    )


def test_sync_states_are_documented_and_typed_for_the_extension() -> None:
    root = FIXTURE.parents[2]
    doc = (root / "docs" / "lsp-protocol.md").read_text()
    protocol = (root / "vscode-extension" / "src" / "protocol.ts").read_text()
    for state in SyncState:
        assert f"`{state.value}`" in doc, state
        assert f'"{state.value}"' in protocol, state


LATER = datetime.fromisoformat(GOLDEN["later"])


@pytest.mark.parametrize("case", GOLDEN["sessions"], ids=lambda c: c["case"])
def test_agent_cell_ticks_from_label_and_since(case: dict[str, Any]) -> None:
    # What the clients compute between notifications: label + age(since), as the server would.
    session = Session.model_validate(case["session"])
    d = case["display"]
    assert present.display(session, LATER)["agent"] == case["agentLater"]
    for now, want in ((NOW, d["agent"]), (LATER, case["agentLater"])):
        since = d["agentSince"]
        ticked = (
            d["agentLabel"]
            if since is None
            else f"{d['agentLabel']} {present.age(_when(since), now)}"
        )
        assert ticked == want


def test_name_problems_are_the_input_box_words() -> None:
    for case in GOLDEN["sessionName"]["cases"]:
        problem = present.name_problem(case["name"])
        assert problem == case["problem"]
        assert (problem is None) == case["valid"]


@pytest.mark.parametrize("case", GOLDEN["summaries"], ids=lambda c: c["summary"] or "none")
def test_summaries_match_the_fixture(case: dict[str, Any]) -> None:
    from kodama.models import AgentState

    sessions = [
        Session(name=f"s{i}", namespace="dev", status=Status(s["status"]),
                agent=AgentState.model_validate({"state": s["agent"]}))
        for i, s in enumerate(case["sessions"])
    ]  # fmt: skip
    assert present.sessions_summary(sessions) == case["summary"]
    assert present.family_summary(sessions) == case["family"]
