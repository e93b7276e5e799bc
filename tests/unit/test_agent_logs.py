"""The log renderer the CLI's `logs` and the language server's `kodama.session.logs` share."""

from __future__ import annotations

import json

from kodama.agent.logs import render

INIT = {"type": "system", "subtype": "init", "session_id": "s1", "model": "m"}
TOOL_RESULT = {"type": "user", "message": {"content": [{"type": "tool_result"}]}}
RESULT = {"type": "result", "subtype": "success", "duration_ms": 2000, "result": "done"}


def test_render_a_whole_log_drops_chatter_and_keeps_plain_lines() -> None:
    text = "\n".join(
        [json.dumps(INIT), json.dumps(TOOL_RESULT), "kodama: agent exited 0", json.dumps(RESULT)]
    )
    assert render(text) == [
        "[session s1 · model m]",
        "kodama: agent exited 0",
        "== result (success, 2.0s): done",
    ]


def test_render_raw_keeps_every_line_but_makes_it_safe() -> None:
    text = json.dumps(TOOL_RESULT) + "\nbell\x07 and \x1b[31mred\n"
    shown = render(text, raw=True)
    assert shown[0] == json.dumps(TOOL_RESULT)
    assert len(shown) == 2
    assert "\x1b" not in shown[1] and "\x07" not in shown[1]
