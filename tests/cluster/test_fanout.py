"""Fan-out: N sessions from one start, grouped in list, compared, rolled back as one."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from tests.fixtures.messages_api import MessagesApi

from .conftest import (
    Kodama,
    session_config,
    session_image,
    simulated_placement,
)

pytestmark = pytest.mark.cluster

# A headless "agent" that leaves a different change in each workspace and commits one of them.
WRITER = (
    'sh -c \'printf "%s\\n" "$KODAMA_SESSION" >who.txt; '
    'if [ "$KODAMA_SESSION" = fan-2 ]; then git add who.txt && '
    "git -c user.name=a -c user.email=a@b commit -qm who; fi'"
)


def writer_config(k: Kodama, testenv: Any) -> None:
    k.write_config(session_config(session_image(testenv), WRITER, **simulated_placement(testenv)))


def test_fanout_of_three_list_compare_diff(kodama: Kodama, testenv: Any) -> None:
    if not testenv.simulated:
        pytest.skip("the writer agent is a host shell command: needs the simulated node")
    writer_config(kodama, testenv)
    started = kodama.json("start", "fan", "--count", "3", "--prompt", "say who you are")
    assert [s["name"] for s in started["items"]] == ["fan-1", "fan-2", "fan-3"]
    assert {s["family"] for s in started["items"]} == {"fan"}
    assert [s["branch"] for s in started["items"]] == [
        "kodama/fan-1",
        "kodama/fan-2",
        "kodama/fan-3",
    ]
    assert len({s["baseCommit"] for s in started["items"]}) == 1
    for n in ("fan-1", "fan-2", "fan-3"):
        kodama.run("wait", n, "--for=exited", "--timeout", "60")
    table = kodama.run("list").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "FAMILY", "STATUS"]
    assert [line.split()[:2] for line in table[1:]] == [
        ["fan-1", "fan"],
        ["fan-2", "fan"],
        ["fan-3", "fan"],
    ]
    # Every object of the family carries its label.
    labelled = json.loads(
        testenv.kubectl(
            "get", "pods,pvc", "-n", kodama.namespace, "-l", "kodama.dev/family=fan", "-o", "json"
        ).stdout
    )["items"]
    assert len([o for o in labelled if o["kind"] == "Pod"]) == 3
    assert len([o for o in labelled if o["kind"] == "PersistentVolumeClaim"]) == 6

    rows = {r["name"]: r for r in kodama.json("compare", "fan")["items"]}
    assert list(rows) == ["fan-1", "fan-2", "fan-3"]
    for n, r in rows.items():
        assert r["status"] == "Running" and r["error"] is None
        assert [(f["path"], f["added"], f["deleted"]) for f in r["files"]] == [("who.txt", 1, 0)]
        assert r["agent"]["state"] == "exited" and r["agent"]["exitCode"] == 0
        assert r["ahead"] == (1 if n == "fan-2" else 0)
    text = kodama.run("compare", "fan").stdout
    assert "who.txt" in text and "1 files +1 -0" in text
    patch = kodama.run("compare", "fan", "--diff", "3").stdout
    assert "+++ b/who.txt" in patch and "+fan-3" in patch and "fan-1" not in patch
    miss = kodama.run("compare", "fan", "--diff", "fan-9", check=False)
    assert miss.returncode == 1 and "fan-1, fan-2, fan-3" in miss.stderr
    # Nothing was touched in the agent's own index.
    status = kodama.run("attach", "fan-1", "--", "git", "status", "--porcelain").stdout
    assert status == "?? who.txt\n"
    for n in ("fan-1", "fan-2", "fan-3"):
        kodama.run("delete", n, "--yes")
    assert testenv.managed(kodama.namespace) == []


def test_fanout_name_taken_creates_nothing(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "dup-2", "--no-wait")
    proc = kodama.run("start", "dup", "--count", "3", check=False)
    assert proc.returncode == 1 and "'dup-2' already exists" in proc.stderr
    assert all("dup-2" in name for name in testenv.managed(kodama.namespace))


def test_interrupted_fanout_leaves_nothing(kodama: Kodama, testenv: Any) -> None:
    proc = kodama.popen("start", "intr", "--count", "3")
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "Waiting for pod" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    code = proc.wait(timeout=180)
    assert any("Waiting for pod" in s for s in seen), seen
    assert code == 130, rest
    assert "rolled back" in rest
    assert testenv.managed(kodama.namespace) == [], "a cancelled fan-out must roll back all"


def test_fanout_of_three_claude_code_with_the_stub(
    testenv: Any, claude: Kodama, messages_api: MessagesApi
) -> None:
    """The real Claude Code, three at once, each writing a file the stub scripted (real node)."""
    # Three conversations at once: each prompt gets a Write, each tool result a closing word.
    write = {
        "for": "prompt",
        "content": [
            {"type": "text", "text": "Writing."},
            {
                "type": "tool_use",
                "name": "Write",
                "input": {"file_path": "/workspace/answer.txt", "content": "42\n"},
            },
        ],
    }
    done = {"for": "tool_result", "content": [{"type": "text", "text": "Done."}]}
    turns = [write] * 3 + [done] * 3
    messages_api.script(turns)
    claude.run("start", "cc", "--count", "3", "--prompt", "write the answer", timeout=600)
    for n in ("cc-1", "cc-2", "cc-3"):
        claude.run("wait", n, "--for=exited", "--timeout", "180")
    rows = claude.json("compare", "cc")["items"]
    assert [r["name"] for r in rows] == ["cc-1", "cc-2", "cc-3"]
    for r in rows:
        assert [(f["path"], f["added"]) for f in r["files"]] == [("answer.txt", 1)], r
