"""Claude Code's first-run answers in ~/.claude.json (pure merge) and the probe's answer."""

from __future__ import annotations

import json

from kodama.agent.firstrun import KEY_TAIL_PLACEHOLDER, KeyStatus, merge_first_run
from kodama.agent.launch import _parse_probe

WS = "/workspace"


def test_fresh_home_gets_onboarding_trust_and_key() -> None:
    text, warning = merge_first_run(None, WS, KeyStatus.NEW)
    assert warning is None and text is not None
    data = json.loads(text)
    assert data["hasCompletedOnboarding"] is True
    assert data["projects"][WS]["hasTrustDialogAccepted"] is True
    assert data["customApiKeyResponses"] == {"approved": [KEY_TAIL_PLACEHOLDER], "rejected": []}


def test_merge_keeps_everything_else_and_is_idempotent() -> None:
    mine = {
        "theme": "light",
        "numStartups": 7,
        "projects": {WS: {"allowedTools": ["Bash"], "hasTrustDialogAccepted": False}, "/x": {}},
        "customApiKeyResponses": {"approved": ["abc"], "rejected": ["zzz"]},
    }
    text, _ = merge_first_run(json.dumps(mine), WS, KeyStatus.APPROVED)
    assert text is not None
    data = json.loads(text)
    assert data["theme"] == "light" and data["numStartups"] == 7
    assert data["projects"][WS] == {"allowedTools": ["Bash"], "hasTrustDialogAccepted": True}
    assert data["projects"]["/x"] == {}
    assert data["customApiKeyResponses"] == {"approved": ["abc"], "rejected": ["zzz"]}
    assert merge_first_run(text, WS, KeyStatus.APPROVED) == (None, None)


def test_a_declined_key_stays_declined() -> None:
    text, warning = merge_first_run(
        json.dumps({"customApiKeyResponses": {"approved": [], "rejected": ["tail"]}}),
        WS,
        KeyStatus.REJECTED,
    )
    assert text is not None and KEY_TAIL_PLACEHOLDER not in text
    assert warning is not None and "not to use the API key" in warning


def test_oauth_or_no_key_adds_no_key_entry() -> None:
    for status in (KeyStatus.NONE, KeyStatus.ODD):
        text, _ = merge_first_run(None, WS, status)
        assert text is not None and "customApiKeyResponses" not in text


def test_broken_file_is_left_alone_with_a_warning() -> None:
    assert merge_first_run("{not json", WS, KeyStatus.NEW)[0] is None
    assert "not valid JSON" in (merge_first_run("{not json", WS, KeyStatus.NEW)[1] or "")
    assert merge_first_run("[1]", WS, KeyStatus.NEW)[0] is None


def test_probe_sections() -> None:
    out = (
        "KODAMA tmux=1 running=0 key=new\n"
        "@@kodama workspace -\n/workspace\n"
        '@@kodama settings 123_45\n{\n  "hooks": {}\n}\n\n'
        "@@kodama claude.json -\n"
    )
    probe = _parse_probe(out)
    assert probe.tmux and not probe.running and probe.key == KeyStatus.NEW
    assert probe.workspace == "/workspace"
    assert probe.files["settings"].sum == "123_45"
    assert json.loads(probe.files["settings"].text or "") == {"hooks": {}}
    assert probe.files["claude.json"].text is None and probe.files["claude.json"].sum == "-"
    assert _parse_probe("KODAMA tmux=0 running=1 key=bogus\n").key == KeyStatus.NONE
