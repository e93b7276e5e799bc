"""usage: run time, resources x time, PVC sizes, Claude Code's tokens (exactly what the Messages
API reported), cost from configured prices."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.messages_api import MessagesApi

from .conftest import Kodama, new_kodama, session_config, session_image
from .test_claude import API_KEY, claude_env

pytestmark = pytest.mark.cluster

TURNS = [
    {
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "echo hi"}},
        ],
        "usage": {
            "input_tokens": 1201,
            "output_tokens": 37,
            "cache_read_input_tokens": 4096,
            "cache_creation_input_tokens": 512,
        },
    },
    {
        "content": [{"type": "text", "text": "All done."}],
        "usage": {
            "input_tokens": 1402,
            "output_tokens": 59,
            "cache_read_input_tokens": 8192,
            "cache_creation_input_tokens": 64,
        },
    },
]


@pytest.fixture
def claude_here(
    testenv: Any, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Kodama, MessagesApi]]:
    """The real Claude Code: in the agent image on the real node, else a `claude` binary of this
    host on the simulated node (KODAMA_TEST_CLAUDE or PATH; e.g. `npm install
    @anthropic-ai/claude-code` in a temp folder)."""
    if testenv.real_node:
        yield request.getfixturevalue("claude"), request.getfixturevalue("messages_api")
        return
    binary = os.environ.get("KODAMA_TEST_CLAUDE") or shutil.which("claude")
    if not testenv.simulated or not binary:
        pytest.skip(
            "needs the real Claude Code: the test plane's real node, or a claude binary on this "
            "host for the simulated node (set KODAMA_TEST_CLAUDE)"
        )
    api = MessagesApi()
    env = {**claude_env(api.url), "DISABLE_AUTOUPDATER": "1"}
    config = session_config(
        session_image(testenv), binary, "claude", cpu="500m", memory="768Mi", home="2Gi", env=env
    )
    k = new_kodama(testenv, namespace, tmp_path, config)
    k.env["ANTHROPIC_API_KEY"] = API_KEY
    try:
        yield k, api
    finally:
        api.close()


def test_usage_reports_the_tokens_the_api_reported_exactly(
    claude_here: tuple[Kodama, MessagesApi],
) -> None:
    k, api = claude_here
    api.clear()
    api.script(TURNS)
    k.run("start", "cc", "--prompt", "look around")
    k.run("wait", "cc", "--for=exited", "--timeout", "180")
    conversation = [r for r in api.requests() if r["body"].get("tools")]
    assert len(conversation) == 2, [r["path"] for r in api.requests()]
    u = k.json("usage", "cc")["items"][0]
    want = {
        "input": 1201 + 1402,
        "output": 37 + 59,
        "cacheRead": 4096 + 8192,
        "cacheWrite": 512 + 64,
        "messages": 2,
    }
    assert u["tokens"] == want, u
    assert u["running"] is True and u["seconds"] > 0
    assert u["cost"] is None and "pricing" in u["costNote"]
    # Priced, and still known once stopped (read before the pod went).
    with (k.home / "config.yaml").open("a") as f:
        f.write(
            "pricing:\n  currency: USD\n  cpuHour: 0.04\n"
            "  models:\n    claude:\n      input: 3\n      output: 15\n"
            "      cacheRead: 0.3\n      cacheWrite: 3.75\n"
        )
    k.run("stop", "cc")
    u = k.json("usage", "cc")["items"][0]
    assert u["status"] == "Stopped" and u["tokens"] == want and not u["running"]
    tokens_cost = (2603 * 3 + 96 * 15 + 12288 * 0.3 + 576 * 3.75) / 1e6
    assert u["cost"]["tokens"] == pytest.approx(tokens_cost)
    assert "memory" in u["cost"]["unpriced"] and "storage" in u["cost"]["unpriced"]
    text = k.run("usage").stdout
    assert "cc" in text and "2603/96" in text and "USD" in text


def test_usage_of_sessions_without_claude(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "one")
    kodama.run("start", "two", "--no-wait")
    items = {u["name"]: u for u in kodama.json("usage")["items"]}
    assert sorted(items) == ["one", "two"]
    one = items["one"]
    assert one["cpu"] == "100m" and one["memory"] == "128Mi"
    assert one["storage"] == {"workspace": "1Gi", "home": "1Gi"} and one["storageGib"] == 2
    assert one["running"] is True and len(one["runs"]) == 1
    assert one["tokens"] is None and "Claude Code" in one["tokensNote"]
    assert one["cost"] is None
    kodama.run("stop", "one")
    stopped = kodama.json("usage", "one")["items"][0]
    assert stopped["runs"][0]["end"] is not None and not stopped["running"]
    assert stopped["cpuHours"] == pytest.approx(0.1 * stopped["seconds"] / 3600)
    frozen = stopped["seconds"]
    assert kodama.json("usage", "one")["items"][0]["seconds"] == frozen  # no pod, no time
    table = kodama.run("usage").stdout
    assert table.splitlines()[0].split()[:3] == ["NAME", "STATUS", "RUN"]
    assert "no prices configured" in table
    missing = kodama.run("usage", "nope", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: session 'nope' not found")
    bad = kodama.run("usage", "Bad_Name", check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
